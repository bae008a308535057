// Writes the seed corpora of fuzz/corpus/{frame,handshake,storage}: a few
// valid inputs per target, in each body's input layout (see the comment at
// the top of fuzz/<target>_fuzz.cc). Deterministic; rerun it after a layout
// change and commit the result:
//   build/tests/fuzz/fuzz_make_seeds fuzz/corpus
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cluster/messages.h"
#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/object.h"
#include "storage/internal/format.h"
#include "storage/records.h"
#include "transport/frame.h"
#include "transport/handshake.h"

namespace converge {
namespace {

namespace fs = std::filesystem;
namespace si = storage_internal;

constexpr ReplicaId kA = 0xa1;
constexpr ReplicaId kB = 0xb2;

Stamp At(uint64_t ms, ReplicaId r) { return Stamp{Timestamp(ms, 0), r}; }

template <class T>
T Must(StatusOr<T> v) {
  if (!v.ok()) {
    std::cerr << "seed construction failed: " << v.status().message() << "\n";
    std::exit(1);
  }
  return std::move(v).value();
}

// One object of each type, plus one whose hash has a tombstone.
std::vector<std::pair<std::string, Object>> Objects() {
  std::vector<std::pair<std::string, Object>> out;
  Object counter;
  Must(counter.IncrBy(At(1000, kA), 5));
  Must(counter.IncrBy(At(1001, kB), -2));
  out.emplace_back("cnt", counter);
  Object str;
  Must(str.Set(At(1002, kA), "hello"));
  out.emplace_back("str", str);
  Object hash;
  Must(hash.HashSet(At(1003, kA), {{"f1", "v1"}, {"f2", "v2"}}));
  Must(hash.HashDelete(At(1004, kB), {"f1"}));
  out.emplace_back("hash", hash);
  Object rc;
  Must(rc.RcAdd(At(1005, kA), 10));
  Must(rc.RcTransfer(At(1006, kA), kB, 3));
  out.emplace_back("rc", rc);
  Object gone;
  Must(gone.Set(At(1007, kB), "x"));
  Must(gone.Delete(At(1008, kB)));
  out.emplace_back("gone", gone);
  return out;
}

DeltaInterval Interval(ReplicaId origin, uint64_t first, const std::string& key, const Object& o) {
  return DeltaInterval(Delta{origin, first, Timestamp(1000 + first, 0), key, o});
}

VersionVector Vv() {
  VersionVector vv;
  vv.Set(kA, 7);
  vv.Set(kB, 3);
  return vv;
}

void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string Frame(ClusterMessage t, const std::string& body) {
  return transport::EncodeFrame(static_cast<uint8_t>(t), body);
}
std::string Frame(transport::MessageType t, const std::string& body) {
  return transport::EncodeFrame(static_cast<uint8_t>(t), body);
}

void FrameSeeds(const fs::path& dir) {
  const std::string big(1, '\x02');    // 16 MiB bound, chunk seed 0
  const std::string small(1, '\x45');  // handshake bound, chunk seed 17
  const auto objects = Objects();
  PushMessage push;
  push.intervals.push_back(Interval(kA, 4, objects[0].first, objects[0].second));
  DeltaInterval two = Interval(kB, 1, objects[1].first, objects[1].second);
  if (!two.Append(Delta{kB, 2, Timestamp(1010, 1), objects[2].first, objects[2].second}).ok()) {
    std::exit(1);
  }
  push.intervals.push_back(two);
  Write(dir, "push", big + Frame(ClusterMessage::kPush, Encode(push)));

  DigestMessage digest{Vv(), Timestamp(2000, 4),
                       {{kA, "n1", "127.0.0.1:7001", "127.0.0.1:17001", false},
                        {kB, "n2", "127.0.0.1:7002", "127.0.0.1:17002", true}},
                       std::string("resume")};
  Write(dir, "digest", big + Frame(ClusterMessage::kDigest, Encode(digest)));

  DeltasMessage deltas{{Interval(kA, 9, objects[3].first, objects[3].second)}, true};
  Write(dir, "deltas", big + Frame(ClusterMessage::kDeltas, Encode(deltas)));

  SnapshotMessage snap{Vv(), objects, "next", false};
  Write(dir, "snapshot", big + Frame(ClusterMessage::kSnapshot, Encode(snap)));

  Write(dir, "rights_ack",
        big + Frame(ClusterMessage::kRights, Encode(RightsMessage{"rc", 4})) +
            Frame(ClusterMessage::kAck, Encode(AckMessage{Vv()})));

  transport::Hello hello{transport::kProtocolVersion, "c1", kA, "n1", "127.0.0.1:7001",
                         "127.0.0.1:17001", 1'700'000'000'000, std::string(32, 'c')};
  Write(dir, "handshake",
        small + Frame(transport::MessageType::kHello, Encode(hello)) +
            Frame(transport::MessageType::kProof, Encode(transport::Proof{std::string(32, 'm')})) +
            Frame(transport::MessageType::kWelcome, "") +
            Frame(transport::MessageType::kHeartbeat, ""));
  Write(dir, "refuse",
        small + Frame(transport::MessageType::kRefuse, transport::EncodeRefusal("wrong cluster")));
  std::string bad_crc = Frame(ClusterMessage::kAck, Encode(AckMessage{Vv()}));
  bad_crc[12] = static_cast<char>(bad_crc[12] ^ 1);
  Write(dir, "bad_crc", big + bad_crc);
  Write(dir, "over_bound", std::string(1, '\x00') + Frame(ClusterMessage::kPush, Encode(push)));
}

void HandshakeSeeds(const fs::path& dir) {
  // Honest runs: config byte, then "deliver the next message" steps.
  const std::string steps(4, '\x00');
  Write(dir, "dialer_plain", std::string(1, '\x00') + steps);
  Write(dir, "acceptor_plain", std::string(1, '\x01') + steps);
  Write(dir, "dialer_secret", std::string(1, '\x06') + steps);
  Write(dir, "acceptor_secret", std::string(1, '\x07') + steps);
  Write(dir, "wrong_secret", std::string(1, '\x0f') + steps);
  Write(dir, "clock_ahead", std::string(1, '\x60') + steps);
  // Tampered proof, retyped hello.
  Write(dir, "tampered", std::string("\x07\x00\x01\x05\x80\x00", 6));
  Write(dir, "retyped", std::string("\x01\x02\x03\x00", 4));
  // A stranger's raw Hello and empty Proof to an acceptor without a secret.
  transport::Hello hello{transport::kProtocolVersion, "fuzz-cluster", 0x3333, "raw", "", "",
                         1'700'000'000'000, ""};
  const std::string raw = Frame(transport::MessageType::kHello, Encode(hello)) +
                          Frame(transport::MessageType::kProof, Encode(transport::Proof{}));
  Write(dir, "raw_hello", std::string(1, '\x01') + '\x03' + static_cast<char>(raw.size()) + raw);
}

void StorageSeeds(const fs::path& dir) {
  auto seed = [&](int selector, const std::string& name, const std::string& bytes) {
    Write(dir, name, std::string(1, static_cast<char>(selector)) + bytes);
  };
  const auto objects = Objects();
  for (const auto& [key, object] : objects) seed(0, "object_" + key, Encode(object));
  const Delta delta{kA, 3, Timestamp(1003, 2), "str", objects[1].second};
  seed(1, "delta", Encode(delta));
  DeltaInterval interval = Interval(kA, 3, "str", objects[1].second);
  if (!interval.Append(Delta{kA, 4, Timestamp(1004, 0), "hash", objects[2].second}).ok()) {
    std::exit(1);
  }
  seed(2, "interval", Encode(interval));
  seed(3, "vv", Encode(Vv()));
  seed(4, "pn_counter", Encode(*objects[0].second.As<PNCounter>()));
  seed(5, "lww_register", Encode(*objects[1].second.As<LwwRegister>()));
  seed(6, "lww_map", Encode(*objects[2].second.As<LwwMap>()));
  seed(7, "reservation_counter", Encode(*objects[3].second.As<ReservationCounter>()));
  seed(8, "applied", Encode(si::AppliedRecord{Vv(), Timestamp(3000, 1)}));
  seed(9, "log_floor", Encode(si::VersionVectorRecord{Vv()}));
  seed(10, "hold", Encode(HoldRecord{"h1", "rc", 2, 1'700'000'000'000}));
  seed(11, "idempotency", Encode(IdempotencyRecord{"req-1", "+OK\r\n", 1'700'000'000'000}));
  seed(12, "log_entry",
       std::string(1, static_cast<char>(si::kLogKeySize)) + si::LogKey(kA, 4) + Encode(interval));
  seed(13, "meta_format", si::EncodeFixed32(si::kStoreFormatVersion));
  seed(13, "meta_replica", si::EncodeFixed64(kA));
  seed(14, "printable", std::string("key\x00\xff\\'", 7));
  // A stored hash, then two operands: a string delta and the hash again.
  std::string merge(1, '\x01');
  for (const std::string& piece :
       {Encode(objects[2].second), Encode(objects[1].second), Encode(objects[2].second)}) {
    merge.push_back(static_cast<char>(piece.size() & 0xff));
    merge.push_back(static_cast<char>(piece.size() >> 8));
    merge += piece;
  }
  seed(15, "object_merge", merge);
  seed(16, "running", Encode(si::RunRecord{"0f3c9a52-7e1b-4c2d-9a8e-1b2c3d4e5f60", 2}));
  seed(17, "retired_ids", Encode(si::RetiredIdsRecord{{kA, kA + 1}}));
  seed(18, "live_keys", Encode(si::LiveKeysRecord{Vv(), 1'000'000}));
  seed(19, "log_size", Encode(si::LogSizeRecord{Vv(), Vv(), {{kA, 4096}, {kA + 1, 17}}}));
}

}  // namespace
}  // namespace converge

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds <fuzz/corpus directory>\n";
    return 2;
  }
  const std::filesystem::path root = argv[1];
  converge::FrameSeeds(root / "frame");
  converge::HandshakeSeeds(root / "handshake");
  converge::StorageSeeds(root / "storage");
  return 0;
}
