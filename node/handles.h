// Typed handles on the keys of a Node: counters, records, strings and
// reservation counters (DESIGN.md, Data model).
//
//   converge::Counter sold = node->counter("sold:42");
//   converge::StatusOr<int64_t> now = sold.Add(1);
//
// A handle is a key plus the path its commands take: the node itself, or a
// NodeSession of it (node/node.h). It holds no data and no lock; every call
// runs one command (or a few, back to back with nothing in between) through
// the node's command table exactly as a client connection's would, so the
// semantics, the replies and the errors are PROTOCOL.md's. Writes return once
// committed locally (per NodeOptions::fsync) and then replicate; no call waits
// for a peer, except Take/Reserve when the node must ask peers for rights.
//
// Errors (Status codes, crdt/status.h), by what the caller does next:
//   kFailedPrecondition  the key holds another type (PROTOCOL.md WRONGTYPE;
//                        IsWrongType() tells it apart), or a reservation
//                        counter cannot be deleted
//   kResourceExhausted   Take/Reserve: the value is below what was asked
//                        (INSUFFICIENT): do not sell
//   kUnavailable         Take/Reserve: the value suffices but this node could
//                        not gather the rights in time (TRYAGAIN; e.g. cut off
//                        from the holders): retry later; also the node is not
//                        running, or a commit failed (nothing was applied)
//   kDeadlineExceeded    Commit: the hold ran out before it (EXPIRED); its
//                        units went back, the sale did not happen
//   kNotFound            Commit/Release: no such hold (NOHOLD): unknown,
//                        already committed or released
//   kInvalidArgument     a bad argument (e.g. zero units), or a hold made on
//                        another node (WRONGNODE <name>: end it there)
//   kInternal            a reply this API did not expect (a bug)
//
// Thread-safety: a handle is a small value; copies are independent and every
// method is safe from any thread (commands serialize on the node's apply
// strand). Handles of a NodeSession share that session: calls through them
// from several threads are safe, but the session's order is then theirs.
// REQUIRES: the Node outlives its handles, and is Start()ed before they are
// used (until then, and after Stop(), calls answer kUnavailable).
#ifndef CONVERGE_NODE_HANDLES_H_
#define CONVERGE_NODE_HANDLES_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crdt/status.h"

namespace converge {

class CommandPath;  // node/internal/command_path.h

// True for the error a handle returns when its key holds another type.
bool IsWrongType(const Status& status);

// A PN-counter (INCRBY / DECRBY / GET / DEL).
class Counter {
 public:
  const std::string& key() const { return key_; }
  // Adds `n` (negative subtracts); returns the value after, as this node
  // sees it.
  StatusOr<int64_t> Add(int64_t n);
  // The value as this node sees it; 0 when the key is absent.
  StatusOr<int64_t> Value();
  // An observed reset (DEL): increments this node had not seen survive.
  Status Reset();

 private:
  friend class Node;
  friend class NodeSession;
  Counter(std::shared_ptr<const CommandPath> path, std::string key)
      : path_(std::move(path)), key_(std::move(key)) {}
  std::shared_ptr<const CommandPath> path_;
  std::string key_;
};

// A last-writer-wins string (SET / GET / DEL).
class String {
 public:
  const std::string& key() const { return key_; }
  Status Set(const std::string& value);
  // The value; nullopt when the key is absent.
  StatusOr<std::optional<std::string>> Get();
  Status Delete();

 private:
  friend class Node;
  friend class NodeSession;
  String(std::shared_ptr<const CommandPath> path, std::string key)
      : path_(std::move(path)), key_(std::move(key)) {}
  std::shared_ptr<const CommandPath> path_;
  std::string key_;
};

// A record: one last-writer-wins register per field (a Redis hash: HSET,
// HGET, HGETALL, HDEL, DEL). Fields written on different nodes never
// overwrite each other; the same field written on two nodes ends with the
// later write (HLC timestamp, then replica id) everywhere.
class Record {
 public:
  const std::string& key() const { return key_; }
  Status Set(const std::string& field, const std::string& value);
  // Several fields in one write: they commit and replicate together.
  // REQUIRES: at least one field.
  Status Set(const std::vector<std::pair<std::string, std::string>>& fields);
  // The field's value; nullopt when the field or the record is absent.
  StatusOr<std::optional<std::string>> Get(const std::string& field);
  // Every live field; empty when the record is absent.
  StatusOr<std::map<std::string, std::string>> GetAll();
  // Deletes one field (a tombstone); true when it was there.
  StatusOr<bool> DeleteField(const std::string& field);
  // Deletes the record: a key tombstone hiding every field written before it.
  Status Delete();

 private:
  friend class Node;
  friend class NodeSession;
  Record(std::shared_ptr<const CommandPath> path, std::string key)
      : path_(std::move(path)), key_(std::move(key)) {}
  std::shared_ptr<const CommandPath> path_;
  std::string key_;
};

// A hold made by RCounter::Reserve: units taken now, final on Commit, back on
// Release or when the TTL runs out. It lives on the node that made it (its id
// names that node) and survives restarts there; keep the id to end it later
// (Hold{id} is enough for RCounter::Commit or Release).
struct Hold {
  Hold() = default;
  explicit Hold(std::string hold_id, std::string of_key = {}, uint64_t of_units = 0)
      : id(std::move(hold_id)), key(std::move(of_key)), units(of_units) {}

  std::string id;
  std::string key;     // informational
  uint64_t units = 0;  // informational
};

// A reservation counter (RC.*; the CRDT is crdt/reservation_counter.h): a
// stock that is never below zero anywhere in the cluster. This node may spend
// the rights it holds without asking anyone, also while cut off; beyond them
// it asks the holders, and fails with kUnavailable when they cannot answer in
// time.
class RCounter {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{1000};

  const std::string& key() const { return key_; }
  // Adds `n` units (n > 0), held as rights by this node; the value after.
  StatusOr<int64_t> Add(uint64_t n);
  // Takes `n` units for good; the value after. kResourceExhausted when the
  // value is below n, kUnavailable when rights could not be gathered within
  // `timeout` (0: only this node's own rights).
  StatusOr<int64_t> Take(uint64_t n, std::chrono::milliseconds timeout = kDefaultTimeout);
  // Takes `n` units now into a hold that ends on Commit, Release or after
  // `ttl`. Errors as Take.
  StatusOr<Hold> Reserve(uint64_t n, std::chrono::milliseconds ttl,
                         std::chrono::milliseconds timeout = kDefaultTimeout);
  // Makes a hold's units final. kDeadlineExceeded when it had run out.
  Status Commit(const Hold& hold);
  // Gives a hold's units back (as rights of this node).
  Status Release(const Hold& hold);
  // The value as this node knows it (0 when absent).
  StatusOr<int64_t> Value();
  // The units this node may take without asking anyone.
  StatusOr<int64_t> LocalRights();

 private:
  friend class Node;
  friend class NodeSession;
  RCounter(std::shared_ptr<const CommandPath> path, std::string key)
      : path_(std::move(path)), key_(std::move(key)) {}
  std::shared_ptr<const CommandPath> path_;
  std::string key_;
};

}  // namespace converge

#endif  // CONVERGE_NODE_HANDLES_H_
