// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of frame
// bodies. Chosen over zlib's CRC32 because it keeps transport/ self-contained
// and detects more error patterns in short messages. On x86-64 processors
// with SSE4.2 the CPU's crc32 instruction computes it (several GB/s: a heal
// moves hundreds of MB through it); elsewhere a table-driven loop does.
// Thread-safe (pure).
#ifndef CONVERGE_TRANSPORT_CRC32C_H_
#define CONVERGE_TRANSPORT_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace converge::transport {

// Extends `crc` (the CRC32C of some prefix, 0 for none) over `data`.
// Crc32c("123456789") == 0xE3069283.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);
inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

namespace internal {
// The table-driven version, whatever the CPU (tests compare the two).
uint32_t Crc32cExtendPortable(uint32_t crc, std::string_view data);
// Whether Crc32cExtend uses the CPU's instruction.
bool Crc32cAccelerated();
}  // namespace internal

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_CRC32C_H_
