// A streaming applier of detools "sequential" patches (the bsdiff
// algorithm), compressed with heatshrink or not at all: the patch format
// esp_delta_ota carries after its 64-byte header.
//
// The patch is fed in chunks of any size, down to one byte. The base image
// is read at offsets through an ImageReader (on a device, the running
// partition) and the new image goes out in order to a ByteSink. Memory is
// constant: the object holds all its state, kStateBudget bytes at most,
// and allocates nothing.
//
// Patch layout: one byte (bit 7 zero, patch type in bits 6..4, 0 for
// sequential; compression in bits 3..0, 0 none or 4 heatshrink), the new
// image's size, for heatshrink one byte of ((window_bits - 4) << 4 |
// (lookahead_bits - 3)), then the compressed stream: a data-format patch
// size (0: none), and until the new size is reached, repeated
//   diff size, diff bytes (added byte-wise to the base at the read position),
//   extra size, extra bytes (copied), adjustment (moves the read position).
// Sizes are little-endian base-128 with bit 7 meaning "more"; the first
// byte holds 6 value bits and bit 6 as the sign.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota_gate/heatshrink_decoder.h"
#include "ota_gate/interfaces.h"
#include "ota_gate/result.h"

namespace ota_gate {

class DetoolsApplier {
 public:
  // Bytes decoded, read from the base and written per step.
  static constexpr size_t kChunk = 512;
  static constexpr size_t kStateBudget = 2048;

  DetoolsApplier() = default;
  DetoolsApplier(const DetoolsApplier&) = delete;
  DetoolsApplier& operator=(const DetoolsApplier&) = delete;

  // Starts applying a patch to a base of `base_size` bytes.
  void begin(ImageReader& base, uint32_t base_size, ByteSink& out);

  // Applies the next patch bytes. Returns ok, or the first failure, which
  // sticks: delta_unsupported (another patch type, compression, heatshrink
  // window or a data-format patch), delta_corrupt (sizes past the new
  // image's end, reads outside the base, bytes after the end),
  // base_read_failed, flash_write_failed (the sink refused).
  Result feed(const uint8_t* data, size_t len);

  // After the last byte: ok only when the new image is complete and the
  // stream ended cleanly (delta_corrupt otherwise).
  Result finish();

  // Known once the patch header has been read (has_target_size()).
  bool has_target_size() const { return phase_ > Phase::target_size; }
  uint32_t target_size() const { return target_size_; }
  uint32_t written() const { return written_; }

 private:
  enum class Phase : uint8_t { type, target_size, heatshrink_params, body, failed };
  enum class Step : uint8_t { data_format_size, diff_size, diff_data, extra_size, extra_data, adjustment, done };

  struct Varint {
    uint64_t value = 0;
    uint8_t shift = 0;
    bool negative = false;
    // Takes one byte; true when the number is complete.
    bool push(uint8_t byte, bool& overflow);
    int64_t get() const { return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value); }
  };

  Result fail(Result r);
  Result read_header_byte(uint8_t byte);
  size_t decode(const uint8_t*& in, const uint8_t* end, uint8_t* out, size_t cap);
  Result take_size(uint8_t byte);
  Result take_data(size_t n);
  void next_step(Step s);

  ImageReader* base_ = nullptr;
  ByteSink* out_ = nullptr;
  uint32_t base_size_ = 0;
  uint32_t target_size_ = 0;
  uint32_t written_ = 0;
  int64_t base_pos_ = 0;
  uint32_t left_ = 0;  // bytes of the current diff or extra run
  Varint size_;
  Phase phase_ = Phase::failed;
  Step step_ = Step::done;
  bool heatshrink_ = false;
  Result failure_ = Result::bad_config;  // until begin()
  HeatshrinkDecoder heatshrink_decoder_;
  uint8_t data_[kChunk] = {};
  uint8_t base_bytes_[kChunk] = {};
};

}  // namespace ota_gate
