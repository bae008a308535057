// Transport: the peer bus of one Converge node. It listens on the peer port,
// dials the configured peer addresses, authenticates every connection
// (handshake.h), keeps exactly one connection per pair of nodes, and carries
// frames (frame.h) between cluster/ and the network. It also injects link
// faults (partitions, loss, delay, duplication) for tests and the DEBUG
// commands of PROTOCOL.md. With TransportOptions::tls every connection runs
// mutual TLS first (tls.h); a peer failing it is refused like one failing
// the HMAC proof, and never delays other connections.
//
// Delivery contract: frames on one connection arrive in order, at most once
// (or more with an injected duplicate), and may be lost: on a full send
// queue, an injected fault, or a connection that closes with frames queued.
// That is enough for cluster/: joins are idempotent and anti-entropy repairs
// anything lost, so transport never blocks a sender for a slow peer.
//
// Exactly one connection per pair: when both nodes dial each other at once,
// the connection dialed by the node with the smaller replica id is kept and
// the other is refused during its handshake (before either side delivers a
// frame on it). A new connection from a peer that already has one replaces the
// old (the peer dialed again, so it considers the old one dead, e.g. it
// restarted).
//
// Send queue policy: each connection's queue is bounded in bytes and frames
// (options below). A frame that does not fit is dropped (tail drop: the new
// frame, not an old one, so frames already queued keep their order) and
// counted in frames_dropped; Send returns ResourceExhausted. Handshake and
// heartbeat frames bypass the bound (they are tiny and heartbeats are only
// queued when the queue is empty).
//
// Thread-safety: every public member function is safe from any thread.
// Callbacks run on io_context threads (a connection's strand), never while a
// Transport lock is held, so they may call back into Transport. Callbacks for
// one peer connection are serialized; callbacks for different peers may run
// concurrently when several threads run the io_context. After Stop() no new
// callback starts; the caller must still let io_context.run() return before
// destroying what the callbacks touch.
#ifndef CONVERGE_TRANSPORT_TRANSPORT_H_
#define CONVERGE_TRANSPORT_TRANSPORT_H_

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"
#include "transport/frame.h"
#include "transport/handshake.h"
#include "transport/tls.h"

namespace spdlog {
class logger;
}
namespace asio::ssl {
class context;
}

namespace converge::transport {

struct TransportOptions {
  // Who we are (cluster id, replica id, names, advertised addresses).
  // identity.peer_address defaults to bind_address:bound port when empty.
  LocalIdentity identity;
  // Address the peer listener binds. Default: "127.0.0.1".
  std::string bind_address = "127.0.0.1";
  // Peer port; 0 picks a free port (tests), see Transport::port(). Default: 0.
  uint16_t port = 0;
  // Peer addresses ("host:port") to keep dialing. Default: none.
  std::vector<std::string> seeds;
  // Shared secret peers must prove (--cluster-secret-file). Default: empty (no auth).
  std::string cluster_secret;
  // Refuse peers whose handshake clock differs more (--max-clock-offset-ms). Default: 500.
  int64_t max_clock_offset_ms = 500;
  // Physical clock, Unix ms; DEBUG CLOCK-OFFSET wraps it. Default: system_clock.
  std::function<int64_t()> clock_ms;
  // Largest frame body accepted from an authenticated peer. Default: 16 MiB.
  uint32_t max_frame_body = kDefaultMaxFrameBody;
  // Per-connection send queue bound, bytes (includes delayed frames). Default: 64 MiB.
  std::size_t max_send_queue_bytes = 64u << 20;
  // Per-connection send queue bound, frames. Default: 65536.
  std::size_t max_send_queue_frames = 65536;
  // Deadline for resolve + TCP connect. Default: 3 s.
  std::chrono::milliseconds connect_timeout{3000};
  // Deadline for the whole handshake after connect. Default: 5 s.
  std::chrono::milliseconds handshake_timeout{5000};
  // An established connection with nothing received for this long closes. Default: 10 s.
  std::chrono::milliseconds idle_timeout{10000};
  // Heartbeat period on an idle connection; keep well below idle_timeout. Default: 1 s.
  std::chrono::milliseconds heartbeat_interval{1000};
  // A write that makes no progress for this long closes the connection. Default: 10 s.
  std::chrono::milliseconds write_timeout{10000};
  // First reconnect delay; doubles per failed attempt. Default: 100 ms.
  std::chrono::milliseconds reconnect_initial_backoff{100};
  // Cap of the reconnect delay. Default: 5 s.
  std::chrono::milliseconds reconnect_max_backoff{5000};
  // Seed of the RNG behind backoff jitter and fault injection; 0 draws one. Default: 0.
  uint64_t rng_seed = 0;
  // Mutual TLS on every peer connection, dialed and accepted (tls.h,
  // MakeTlsContext with TlsVerify::kRequire); the HMAC handshake then runs
  // inside TLS. Null: plain TCP. Default: null. Its Reload() (a rotated
  // certificate) applies to connections made after it.
  std::shared_ptr<TlsContextSlot> tls;
};

// Per-link fault injection (DEBUG LINK). Applied to application frames in
// both directions at this node.
struct LinkFaults {
  double drop_probability = 0;       // each frame lost with this probability
  double duplicate_probability = 0;  // each surviving frame delivered twice
  std::chrono::milliseconds delay{0};  // each frame held this long (order kept)
};

struct PeerStats {
  uint64_t replica_id = 0;
  std::string node_name;
  std::string client_address;
  std::string peer_address;
  bool connected = false;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t frames_dropped = 0;   // send queue full, partition or injected loss
  uint64_t frames_rejected = 0;  // malformed frames (each closed its connection)
  int64_t connected_since_ms = 0;  // Unix ms; 0 while disconnected
  int64_t last_contact_ms = 0;     // Unix ms of the last frame received
  int64_t clock_offset_ms = 0;     // peer minus us, measured in the handshake
  std::size_t send_queue_bytes = 0;  // now queued (incl. delayed) toward the peer
  std::string link;  // "local ip:port -> remote ip:port" of the connection, if any
  bool partitioned = false;  // DEBUG PARTITION cuts this link (until Heal)
  bool link_faults = false;  // DEBUG LINK loss/delay/duplication is set on this link
};

struct PeerEvent {
  enum class Kind {
    kUp,       // handshake done; Send to this peer works now
    kDown,     // its connection closed (reason says why)
    kRefused,  // a handshake failed (either side refused; reason says why)
  };
  Kind kind;
  uint64_t replica_id = 0;  // 0 if the peer never identified itself
  std::string node_name;
  std::string address;
  Status reason;
};

class Transport {
 public:
  // (peer replica id, message type >= kFirstApplicationType, body)
  using FrameHandler = std::function<void(uint64_t peer, uint8_t type, std::string body)>;
  using PeerEventHandler = std::function<void(const PeerEvent& event)>;

  // REQUIRES: options.identity.replica_id != 0. Does no I/O until Start().
  // `io` must outlive every handler it runs for this Transport.
  Transport(asio::io_context& io, TransportOptions options, FrameHandler on_frame,
            PeerEventHandler on_event);
  ~Transport();  // Stop()s.

  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Binds and listens, then dials the seeds. Unavailable when the port cannot
  // be bound, InvalidArgument for a bad bind address. Call once.
  Status Start();
  // The bound peer port (useful with port 0). REQUIRES: Start() succeeded.
  uint16_t port() const;
  // Starts dialing another address (e.g. learned from membership gossip).
  void AddSeed(std::string address);

  // Queues one frame for `peer`. Unavailable: not connected. InvalidArgument:
  // a transport-reserved type or a body above max_frame_body.
  // ResourceExhausted: the peer's send queue is full (the frame is dropped and
  // counted). An injected fault drops silently (returns OK), as a network would.
  Status Send(uint64_t peer, uint8_t type, std::string_view body);
  // Queues one frame for every connected peer (encoded once, shared).
  // Returns how many peers it was queued for.
  std::size_t Broadcast(uint8_t type, std::string_view body);

  std::vector<uint64_t> ConnectedPeers() const;
  bool IsConnected(uint64_t peer) const;
  std::optional<PeerStats> Stats(uint64_t peer) const;
  std::vector<PeerStats> AllStats() const;
  std::optional<uint64_t> FindPeerByName(std::string_view node_name) const;
  // Live TCP connections, including ones still in their handshake.
  std::size_t connection_count() const;
  // Connections closed before a handshake completed (garbage, bad auth, ...).
  uint64_t rejected_connections() const;
  // The latest refused handshake, "address: reason" (a failed TLS handshake
  // says why the certificate was refused); "" when none yet.
  std::string last_refusal() const;

  // Drops every frame to and from `peer` until Heal(), at the frame level on
  // both send and receive, so the cut is two-way even if only this side set it.
  // Heartbeats are dropped too: the connection then times out as in a real cut.
  void Partition(uint64_t peer);
  void SetLinkFaults(uint64_t peer, LinkFaults faults);
  // Removes all partitions and link faults and redials at once.
  void Heal();

  // Closes the listener and every connection and cancels every timer, so the
  // io_context runs out of work. Idempotent; safe from any thread.
  void Stop();

  class Core;  // implementation; public so internal handlers can name it

 private:
  std::shared_ptr<Core> core_;
};

// The "transport" spdlog logger (created on first use if the embedding
// program has not registered one).
std::shared_ptr<spdlog::logger> TransportLogger();

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_TRANSPORT_H_
