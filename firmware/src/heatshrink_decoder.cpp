#include "ota_gate/heatshrink_decoder.h"

#include <cstring>

namespace ota_gate {

bool HeatshrinkDecoder::reset(uint8_t window_bits, uint8_t lookahead_bits) {
  // heatshrink's own limits: window 4..15 bits, lookahead 3..window-1 bits.
  if (window_bits < 4 || window_bits > kMaxWindowBits || lookahead_bits < 3 || lookahead_bits >= window_bits) {
    return false;
  }
  memset(window_, 0, sizeof window_);
  bits_ = 0;
  bit_count_ = 0;
  window_bits_ = window_bits;
  lookahead_bits_ = lookahead_bits;
  state_ = State::tag;
  head_ = 0;
  distance_ = 0;
  remaining_ = 0;
  return true;
}

bool HeatshrinkDecoder::take(uint8_t n, const uint8_t*& in, const uint8_t* end, uint16_t& value) {
  while (bit_count_ < n) {
    if (in == end) return false;
    bits_ = (bits_ << 8) | *in++;
    bit_count_ = static_cast<uint8_t>(bit_count_ + 8);
  }
  bit_count_ = static_cast<uint8_t>(bit_count_ - n);
  value = static_cast<uint16_t>((bits_ >> bit_count_) & ((1u << n) - 1));
  bits_ &= (1u << bit_count_) - 1;
  return true;
}

size_t HeatshrinkDecoder::decode(const uint8_t*& in, const uint8_t* end, uint8_t* out, size_t cap) {
  const uint16_t mask = static_cast<uint16_t>((1u << window_bits_) - 1);
  size_t n = 0;
  uint16_t v = 0;
  while (n < cap) {
    switch (state_) {
      case State::tag:
        if (!take(1, in, end, v)) return n;
        state_ = v != 0 ? State::literal : State::distance;
        break;
      case State::literal:
        if (!take(8, in, end, v)) return n;
        out[n++] = static_cast<uint8_t>(v);
        window_[head_++ & mask] = static_cast<uint8_t>(v);
        state_ = State::tag;
        break;
      case State::distance:
        if (!take(window_bits_, in, end, v)) return n;
        distance_ = static_cast<uint16_t>(v + 1);
        state_ = State::length;
        break;
      case State::length:
        if (!take(lookahead_bits_, in, end, v)) return n;
        remaining_ = static_cast<uint16_t>(v + 1);
        state_ = State::copy;
        break;
      case State::copy:
        while (remaining_ > 0 && n < cap) {
          const uint8_t c = window_[static_cast<uint16_t>(head_ - distance_) & mask];
          out[n++] = c;
          window_[head_++ & mask] = c;
          --remaining_;
        }
        if (remaining_ == 0) state_ = State::tag;
        break;
    }
  }
  return n;
}

}  // namespace ota_gate
