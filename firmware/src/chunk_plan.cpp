#include "ota_gate/chunk_plan.h"

namespace ota_gate {

bool is_valid_chunk_size(uint32_t chunk_size) {
  return chunk_size >= kMinChunkSize && chunk_size <= kMaxChunkSize;
}

ByteRange plan_chunk(uint32_t offset, uint32_t total, uint32_t chunk_size) {
  const uint32_t remaining = total - offset;
  const uint32_t length = remaining < chunk_size ? remaining : chunk_size;
  return ByteRange{offset, offset + length - 1};
}

}  // namespace ota_gate
