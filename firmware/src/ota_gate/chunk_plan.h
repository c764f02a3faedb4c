// Splitting a download into Range requests of a fixed size.
#pragma once

#include <cstdint>

namespace ota_gate {

constexpr uint32_t kMinChunkSize = 4 * 1024;
constexpr uint32_t kMaxChunkSize = 64 * 1024;

struct ByteRange {
  uint32_t first;
  uint32_t last;  // inclusive, as in HTTP
  uint32_t length() const { return last - first + 1; }
};

bool is_valid_chunk_size(uint32_t chunk_size);

// The next range to ask for when `offset` bytes of `total` are written.
// Requires offset < total. Never asks past the last byte.
ByteRange plan_chunk(uint32_t offset, uint32_t total, uint32_t chunk_size);

}  // namespace ota_gate
