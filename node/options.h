// NodeOptions: everything `converge serve` can be told (PROTOCOL.md, The
// executable). Each field's comment ends in its default.
#ifndef CONVERGE_NODE_OPTIONS_H_
#define CONVERGE_NODE_OPTIONS_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace converge {

enum class FsyncMode { kAlways, kBatch, kEverySec };

struct NodeOptions {
  // RocksDB data directory; created if missing. Required.
  std::string data_dir;
  // Human name of the node, unique in the cluster. Default "host:port"
  // (filled in by the node when empty).
  std::string name;
  // Address both listeners bind. Default 127.0.0.1.
  std::string bind = "127.0.0.1";
  // Client port (RESP2). Default 6380.
  uint16_t port = 6380;
  // Peer port (cluster bus). Default 0, meaning port + 10000.
  uint16_t peer_port = 0;
  // Peer addresses "host:peer-port" to join through. Default none.
  std::vector<std::string> seeds;
  // Shared secret peers must prove (HMAC challenge); empty = none. Default "".
  std::string cluster_secret;
  // Password clients must AUTH with; empty = none. Default "".
  std::string requirepass;
  // TLS on both ports when these three are set (PEM files): this node's
  // certificate chain, its private key, and the CA that signs every node's
  // certificate. Peers run mutual TLS (each verifies the other against the
  // CA); clients need TLS but no certificate unless tls_auth_clients.
  // Default "" (plain TCP).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  // Clients of the RESP port must present a certificate signed by the CA.
  // Default off.
  bool tls_auth_clients = false;
  // Directory under which CHECKPOINT <name> writes backups (each a RocksDB
  // checkpoint that takes a new replica id when restored; Store::Checkpoint).
  // Empty = CHECKPOINT is refused. Default "".
  std::string backup_dir;
  // HTTP port for /metrics, /healthz and the status page; 0 = off. Default 0.
  uint16_t http_port = 0;
  // When an acknowledged write is on disk (DESIGN.md, Storage). Default everysec.
  FsyncMode fsync = FsyncMode::kEverySec;
  // Anti-entropy period. Default 200 ms.
  uint64_t gossip_interval_ms = 200;
  // HLC skew bound. Default 500 ms.
  uint64_t max_clock_offset_ms = 500;
  // Enables the DEBUG fault commands. Default off.
  bool fault_injection = false;
  // trace, debug, info, warn, error. Default info.
  std::string log_level = "info";
  // Worker threads of the node's io_context: the client and peer
  // connections. Every change runs on the one apply strand whatever this is.
  // 0 (the default): 1 on a machine with at most 2 CPUs, else 2. On two
  // cores shared with the clients, 1 served 1.2-1.4x the unpipelined
  // requests of 2 and healed as fast (bench/RESULTS.md); more cores than
  // that were not measured.
  int threads = 0;
  // Move surplus reservation rights toward the nodes that spend them, before
  // they ask (cluster/rights_policy.h). Embedding and benchmarks only; the
  // command line keeps it on. Default on.
  bool rights_policy = true;

  // The peer port in force: peer_port, else port + 10000 (0 stays 0: both
  // ephemeral, for tests).
  bool tls() const { return !tls_cert_file.empty(); }

  int effective_threads() const {
    if (threads > 0) return threads;
    return std::thread::hardware_concurrency() <= 2 ? 1 : 2;
  }

  uint16_t effective_peer_port() const {
    if (peer_port != 0 || port == 0) return peer_port;
    return static_cast<uint16_t>(port + 10000);
  }
};

}  // namespace converge

#endif  // CONVERGE_NODE_OPTIONS_H_
