// ClientState: what the server knows about one client connection. Touched
// only on the apply strand (commands read and change it there).
#ifndef CONVERGE_NODE_INTERNAL_CLIENT_STATE_H_
#define CONVERGE_NODE_INTERNAL_CLIENT_STATE_H_

#include <cstdint>
#include <string>

#include "crdt/version_vector.h"

namespace converge {

struct ClientState {
  uint64_t id = 0;
  std::string name;          // CLIENT SETNAME
  std::string address;       // peer address of the socket
  bool authenticated = false;
  bool close_after_reply = false;  // QUIT
  // The session: per origin, the highest seq this connection depends on (its
  // own writes, and tokens it resumed). SESSION TOKEN adds what it read.
  VersionVector session;
  // The highest seq of this node's own deltas written by this connection (WAIT).
  uint64_t own_seq = 0;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_CLIENT_STATE_H_
