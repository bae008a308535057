// TLS settings shared by the peer bus and the client port: which files hold
// the node's certificate, its key and the CA, and how to build an OpenSSL
// context from them (asio::ssl over OpenSSL).
//
// Peers use mutual TLS: each side presents its certificate and verifies the
// other's against the CA; a peer without a certificate signed by that CA
// (or with an expired one) fails the TLS handshake and never reaches the HMAC
// handshake of handshake.h, which still runs inside TLS to prove the cluster
// secret. Host names are not checked: peers dial addresses learned from
// gossip and membership, and what identifies a member is its CA-signed
// certificate plus the cluster secret, as on Redis's cluster bus.
//
// Clients of the RESP port are verified only when asked (--tls-auth-clients),
// as redis-server's tls-auth-clients: by default a client needs no
// certificate, only TLS.
#ifndef CONVERGE_TRANSPORT_TLS_H_
#define CONVERGE_TRANSPORT_TLS_H_

#include <asio/ssl.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "crdt/status.h"

namespace converge::transport {

struct TlsFiles {
  // PEM certificate chain of this node (leaf first). Default "" (no TLS).
  std::string cert_file;
  // PEM private key of that certificate, unencrypted. Default "".
  std::string key_file;
  // PEM CA certificate(s) that sign the cluster's certificates. Default "".
  std::string ca_file;

  // TLS is on when a certificate is given; Validate() demands the rest.
  bool enabled() const { return !cert_file.empty(); }
};

// How a context checks the other side's certificate.
enum class TlsVerify {
  kNone,     // do not ask for one (client port, default)
  kRequire,  // ask, and fail the handshake without a valid one (peers, --tls-auth-clients)
};

// Builds a context for both handshake roles: loads the certificate chain, the
// key (which must match it) and the CA, allows TLS 1.2 and later only.
// InvalidArgument naming the file and OpenSSL's reason when one cannot be
// read or parsed, or when the key does not match the certificate.
// REQUIRES: files.enabled().
StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const TlsFiles& files,
                                                             TlsVerify verify);

// The context a port hands to each new connection, replaceable while the port
// serves: Reload() reads the files again (a rotated certificate, key or CA)
// and, only if they make a context, puts it in place for connections made
// from then on. A connection keeps the context it started with for its life
// (the Stream holds a reference), so rotation never cuts one off.
//
// Thread-safe.
class TlsContextSlot {
 public:
  // Loads `files` now (MakeTlsContext's errors).
  static StatusOr<std::shared_ptr<TlsContextSlot>> Open(TlsFiles files, TlsVerify verify);

  // The context for a connection starting now. Never null.
  std::shared_ptr<asio::ssl::context> Get() const;
  // A context built from the same paths now, not yet in use (MakeTlsContext's
  // errors, naming the file); Set() puts it in place. Two slots that must
  // change together load both before setting either.
  StatusOr<std::shared_ptr<asio::ssl::context>> Load() const;
  // REQUIRES: ctx is non-null.
  void Set(std::shared_ptr<asio::ssl::context> ctx);
  // Load() then Set(); on error the current context stays.
  Status Reload();

 private:
  TlsContextSlot(TlsFiles files, TlsVerify verify, std::shared_ptr<asio::ssl::context> ctx)
      : files_(std::move(files)), verify_(verify), ctx_(std::move(ctx)) {}

  const TlsFiles files_;
  const TlsVerify verify_;
  mutable std::mutex mu_;
  std::shared_ptr<asio::ssl::context> ctx_;  // guarded by mu_
};

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_TLS_H_
