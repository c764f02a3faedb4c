// A streaming decoder of heatshrink's LZSS bit stream (the compression
// detools uses for esp_delta_ota patches), for windows of up to 2^8 bytes.
//
// The stream, read most significant bit first: a 1 bit and 8 bits make a
// literal byte; a 0 bit, `window_bits` bits of (distance - 1) and
// `lookahead_bits` bits of (length - 1) copy earlier output. The window
// starts zeroed, as heatshrink's does, so a copy may reach before the
// first byte. Trailing bits of the last byte are padding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ota_gate {

class HeatshrinkDecoder {
 public:
  static constexpr uint8_t kMaxWindowBits = 8;

  // Starts a new stream; false for parameters heatshrink does not allow or
  // a window larger than this decoder holds.
  bool reset(uint8_t window_bits, uint8_t lookahead_bits);

  // Decodes up to `cap` bytes into `out`, taking input from [in, end) and
  // advancing `in`. Returns the bytes produced: fewer than `cap` only when
  // the input ran out.
  size_t decode(const uint8_t*& in, const uint8_t* end, uint8_t* out, size_t cap);

  // True when no copy is half delivered: the stream may end here.
  bool at_boundary() const { return state_ != State::copy; }

 private:
  enum class State : uint8_t { tag, literal, distance, length, copy };

  bool take(uint8_t n, const uint8_t*& in, const uint8_t* end, uint16_t& value);

  uint8_t window_[1u << kMaxWindowBits] = {};
  uint32_t bits_ = 0;       // pending input bits, the oldest highest
  uint8_t bit_count_ = 0;
  uint8_t window_bits_ = 8;
  uint8_t lookahead_bits_ = 4;
  State state_ = State::tag;
  uint16_t head_ = 0;       // where the next output byte goes in the window
  uint16_t distance_ = 0;
  uint16_t remaining_ = 0;  // bytes of the current copy still to deliver
};

}  // namespace ota_gate
