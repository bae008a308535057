#include "storage/internal/format.h"

#include <cstdio>

namespace converge::storage_internal {

bool VersionVectorRecord::WellFormed() const {
  for (const auto& [origin, seq] : vv.entries()) {
    if (seq == 0) return false;
  }
  return true;
}

bool LogSizeRecord::WellFormed() const {
  if (!VersionVectorRecord{vv}.WellFormed() || !VersionVectorRecord{log_floor}.WellFormed()) {
    return false;
  }
  for (const auto& [origin, bytes] : bytes_by_origin) {
    if (origin == 0 || bytes == 0) return false;
  }
  return true;
}

bool RetiredIdsRecord::WellFormed() const {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == 0) return false;
    for (size_t j = 0; j < i; ++j) {
      if (ids[j] == ids[i]) return false;
    }
  }
  return true;
}

std::string EncodeFixed32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 3; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

std::string EncodeFixed64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint32_t DecodeFixed32(std::string_view bytes) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

uint64_t DecodeFixed64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

std::string LogKey(ReplicaId origin, uint64_t seq) {
  std::string key = EncodeFixed64(origin);
  key += EncodeFixed64(seq);
  return key;
}

Status ParseLogKey(std::string_view key, ReplicaId* origin, uint64_t* seq) {
  if (key.size() != kLogKeySize) {
    return CorruptionError("column family 'log', key " + PrintableKey(key) + ": key is " +
                           std::to_string(key.size()) + " bytes, not 16");
  }
  *origin = DecodeFixed64(key.substr(0, 8));
  *seq = DecodeFixed64(key.substr(8, 8));
  return Status::Ok();
}

StatusOr<DeltaInterval> DecodeLogEntry(std::string_view key, std::string_view value) {
  ReplicaId origin;
  uint64_t seq;
  CONVERGE_RETURN_IF_ERROR(ParseLogKey(key, &origin, &seq));
  CONVERGE_ASSIGN_OR_RETURN(DeltaInterval d, DecodeValue<DeltaInterval>(kLogCf, key, value));
  if (d.origin() != origin || d.last() != seq) {
    return BadValue(kLogCf, key,
                    CorruptionError("the entry's (origin, last) is (" + HexId(d.origin()) + ", " +
                                    std::to_string(d.last()) + ")"));
  }
  return d;
}

std::string HexId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string PrintableKey(std::string_view key) {
  constexpr size_t kMax = 64;
  std::string out = "'";
  for (size_t i = 0; i < key.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += "'";
  if (key.size() > kMax) out += "...";
  return out;
}

Status BadValue(std::string_view cf, std::string_view key, const Status& why) {
  return CorruptionError("column family '" + std::string(cf) + "', key " + PrintableKey(key) +
                         ": " + why.message());
}

StatusOr<uint32_t> DecodeMeta32(std::string_view key, std::string_view value) {
  if (value.size() != 4) {
    return BadValue(kMetaCf, key,
                    CorruptionError("value is " + std::to_string(value.size()) + " bytes, not 4"));
  }
  return DecodeFixed32(value);
}

StatusOr<uint64_t> DecodeMeta64(std::string_view key, std::string_view value) {
  if (value.size() != 8) {
    return BadValue(kMetaCf, key,
                    CorruptionError("value is " + std::to_string(value.size()) + " bytes, not 8"));
  }
  return DecodeFixed64(value);
}

}  // namespace converge::storage_internal
