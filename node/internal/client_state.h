// ClientState: what the server knows about one client connection. Touched
// only on the apply strand (commands read and change it there).
#ifndef CONVERGE_NODE_INTERNAL_CLIENT_STATE_H_
#define CONVERGE_NODE_INTERNAL_CLIENT_STATE_H_

#include <cstdint>
#include <string>

namespace converge {

struct ClientState {
  uint64_t id = 0;
  std::string name;          // CLIENT SETNAME
  std::string address;       // peer address of the socket
  bool authenticated = false;
  bool close_after_reply = false;  // QUIT
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_CLIENT_STATE_H_
