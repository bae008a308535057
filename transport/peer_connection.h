// PeerConnection: one TCP connection to another Converge node, from connect
// (or accept) through the TLS handshake (when TLS is on, stream.h) and the
// HMAC handshake (handshake.h) to close.
//
// Internal to transport/: cluster/ talks to Transport (transport.h), which
// owns every PeerConnection. Kept in its own header so the connection's state
// machine can be read apart from the registry that decides which connection to
// keep.
//
// Thread-safety: every member function may be called from any thread; all
// socket, timer and state work runs on the connection's own strand (asio's
// chat_server / http server3 pattern). ConnectionOwner callbacks are invoked on
// that strand.
//
// Lifetime: enable_shared_from_this; every pending operation holds a
// shared_ptr, so the object lives until its last handler has run after Close().
#ifndef CONVERGE_TRANSPORT_PEER_CONNECTION_H_
#define CONVERGE_TRANSPORT_PEER_CONNECTION_H_

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "crdt/status.h"
#include "transport/frame.h"
#include "transport/handshake.h"
#include "transport/stream.h"
#include "transport/tls.h"

namespace converge::transport {

// Counters of one peer, shared by its successive connections and read by
// Transport::Stats from any thread (hence atomics).
struct PeerCounters {
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> frames_received{0};
  std::atomic<uint64_t> frames_dropped{0};   // by a fault, a partition or a full queue
  std::atomic<uint64_t> frames_rejected{0};  // malformed frames that closed a connection
  std::atomic<int64_t> connected_since_ms{0};  // Unix ms; 0 while down
  std::atomic<int64_t> last_contact_ms{0};     // Unix ms of the last frame received
  std::atomic<int64_t> clock_offset_ms{0};     // peer minus us, from the last handshake
};

// What fault injection does to one frame (Transport::DecideFault).
struct FaultDecision {
  bool drop = false;
  int copies = 1;
  std::chrono::milliseconds delay{0};
};

// Settings a connection needs, fixed when Transport starts.
struct ConnectionOptions {
  LocalIdentity identity;
  HandshakeOptions handshake;
  std::function<int64_t()> clock_ms;  // physical clock, Unix ms
  uint32_t max_frame_body = kDefaultMaxFrameBody;
  std::size_t max_send_queue_bytes = 0;
  std::size_t max_send_queue_frames = 0;
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds handshake_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds heartbeat_interval{0};
  std::chrono::milliseconds write_timeout{0};
  // Mutual TLS for every connection when set (tls.h): each takes the slot's
  // context of the moment it starts. Null: plain TCP.
  std::shared_ptr<TlsContextSlot> tls;
};

class PeerConnection;

// The registry side of a connection (implemented by Transport). All calls come
// from the connection's strand.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // Dialer, once the acceptor's Hello checked out: an error closes this
  // connection quietly (e.g. already connected to that peer).
  virtual Status OnPeerIdentified(const std::shared_ptr<PeerConnection>& conn) = 0;
  // Acceptor after both proofs (an error is sent as Refuse), or dialer on
  // Welcome (cannot refuse). On success the connection is the peer's one
  // established connection; returns the peer's counters through *counters.
  virtual Status Register(const std::shared_ptr<PeerConnection>& conn,
                          std::shared_ptr<PeerCounters>* counters) = 0;
  // After Register succeeded and Welcome is queued: the peer-up event.
  virtual void OnEstablished(const std::shared_ptr<PeerConnection>& conn) = 0;
  virtual FaultDecision DecideFault(uint64_t peer, bool outgoing) = 0;
  virtual bool IsPartitioned(uint64_t peer) = 0;
  virtual void Deliver(uint64_t peer, uint8_t type, std::string body) = 0;
  // Exactly once per connection, after it is closed.
  virtual void OnClosed(const std::shared_ptr<PeerConnection>& conn, const Status& why) = 0;
};

class PeerConnection : public std::enable_shared_from_this<PeerConnection> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;

  // An accepted socket; the remote side dials.
  static std::shared_ptr<PeerConnection> Accepted(asio::ip::tcp::socket socket,
                                                  std::shared_ptr<const ConnectionOptions> options,
                                                  std::weak_ptr<ConnectionOwner> owner,
                                                  std::shared_ptr<spdlog::logger> log);
  // A connection this node dials to `address` ("host:port").
  static std::shared_ptr<PeerConnection> Dialed(asio::io_context& io, std::string address,
                                                std::shared_ptr<const ConnectionOptions> options,
                                                std::weak_ptr<ConnectionOwner> owner,
                                                std::shared_ptr<spdlog::logger> log);

  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // Starts connecting (dialer) or the handshake (acceptor).
  void Start();

  // Queues an encoded application frame `copies` times after `delay`.
  // Queues nothing and returns ResourceExhausted when the send queue bound
  // would be exceeded, Unavailable when the connection is closed; the caller
  // counts the drop.
  Status Send(std::shared_ptr<const std::string> frame, int copies,
            std::chrono::milliseconds delay);

  // Closes now (pending writes are abandoned). Idempotent.
  void Close(Status why);

  bool outbound() const { return outbound_; }
  // Known once the peer's Hello decoded (even when it was then refused);
  // stable from then on. 0 before.
  uint64_t peer_id() const { return peer_id_.load(); }
  // Set before OnPeerIdentified/Register; read-only afterwards.
  const Hello& peer_hello() const { return handshake_.peer(); }
  int64_t clock_offset_ms() const { return handshake_.clock_offset_ms(); }
  // The dialed address, or the remote endpoint of an accepted socket.
  const std::string& address() const { return address_; }
  bool established() const { return established_.load(); }
  // "local -> remote" TCP endpoints; set just before Register, then fixed.
  const std::string& link() const { return link_; }
  // True when the handshake failed on either side for a reason other than a
  // duplicate connection; Transport reports these as refusals.
  bool refused() const { return refused_.load(); }
  // "name (id)" for logs, or the address before the Hello.
  std::string PeerLabel() const;
  std::size_t queued_bytes() const { return queued_bytes_.load(); }

 private:
  enum class State { kConnecting, kTlsHandshake, kAwaitHello, kAwaitProof, kAwaitWelcome, kEstablished, kClosed };
  struct Delayed {
    std::chrono::steady_clock::time_point due;
    bool outgoing;
    std::shared_ptr<const std::string> frame;  // outgoing
    Frame incoming;                            // incoming
  };

  PeerConnection(asio::ip::tcp::socket socket, bool outbound, std::string address,
                 std::shared_ptr<const ConnectionOptions> options,
                 std::weak_ptr<ConnectionOwner> owner, std::shared_ptr<spdlog::logger> log);

  void DoConnect();
  // After connect or accept: the TLS handshake (if any), then BeginHandshake.
  void BeginTls();
  void BeginHandshake();
  void DoRead();
  void OnRead(std::size_t n);
  // Returns false when the connection was closed.
  bool HandleFrame(Frame frame);
  bool HandleHandshakeFrame(Frame& frame);
  void Refuse(const Status& why, bool duplicate);
  void Establish(bool send_welcome);
  void QueueControl(MessageType type, std::string body);
  void Enqueue(std::shared_ptr<const std::string> frame, bool counted);
  void DoWrite();
  void ArmDeadline(std::chrono::milliseconds after, const char* what);
  void ArmHeartbeat();
  void ArmDelayTimer();
  void OnDelayTimer();
  void DeliverIncoming(Frame frame);
  void CloseOnStrand(Status why);
  std::shared_ptr<ConnectionOwner> owner() const { return owner_.lock(); }

  Stream stream_;
  Strand strand_;
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer deadline_;
  asio::steady_timer write_deadline_;
  asio::steady_timer heartbeat_;
  asio::steady_timer delay_timer_;
  const bool outbound_;
  std::string address_;
  std::shared_ptr<const ConnectionOptions> options_;
  std::weak_ptr<ConnectionOwner> owner_;
  std::shared_ptr<spdlog::logger> log_;

  // Strand-only state.
  State state_ = State::kConnecting;
  bool closing_after_flush_ = false;
  Handshake handshake_;
  FrameDecoder decoder_;
  std::vector<char> read_buffer_;
  struct Queued {
    std::shared_ptr<const std::string> frame;
    bool counted;  // counts against the send queue bound (application frames)
  };
  std::deque<Queued> write_queue_;
  std::string joined_;  // under TLS: the frames of one write, in one buffer
  std::size_t in_flight_ = 0;  // frames at the head of write_queue_ being written
  std::deque<Delayed> delayed_;
  std::shared_ptr<PeerCounters> counters_;
  const char* deadline_what_ = "";
  std::string link_;

  // Shared with other threads.
  std::atomic<uint64_t> peer_id_{0};
  std::atomic<bool> established_{false};
  std::atomic<bool> refused_{false};
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<std::size_t> queued_frames_{0};
};

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_PEER_CONNECTION_H_
