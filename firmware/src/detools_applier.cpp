#include "ota_gate/detools_applier.h"

#include <cstring>

namespace ota_gate {

static_assert(sizeof(DetoolsApplier) <= DetoolsApplier::kStateBudget,
              "the applier's state must stay within its stated budget");

namespace {

constexpr uint8_t kPatchTypeSequential = 0;
constexpr uint8_t kCompressionNone = 0;
constexpr uint8_t kCompressionHeatshrink = 4;
constexpr uint8_t kMaxSizeShift = 34;  // 6 + 4 * 7 bits: a 32-bit size in at most five bytes

}  // namespace

bool DetoolsApplier::Varint::push(uint8_t byte, bool& overflow) {
  if (shift == 0) {
    value = byte & 0x3f;
    negative = (byte & 0x40) != 0;
    shift = 6;
  } else {
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    shift = static_cast<uint8_t>(shift + 7);
  }
  const bool more = (byte & 0x80) != 0;
  overflow = value > 0xffffffffull || (more && shift > kMaxSizeShift);
  if (overflow || more) return false;
  shift = 0;
  return true;
}

void DetoolsApplier::begin(ImageReader& base, uint32_t base_size, ByteSink& out) {
  base_ = &base;
  out_ = &out;
  base_size_ = base_size;
  target_size_ = 0;
  written_ = 0;
  base_pos_ = 0;
  left_ = 0;
  size_ = Varint();
  phase_ = Phase::type;
  step_ = Step::done;
  heatshrink_ = false;
  failure_ = Result::ok;
}

Result DetoolsApplier::fail(Result r) {
  failure_ = r;
  phase_ = Phase::failed;
  return r;
}

Result DetoolsApplier::read_header_byte(uint8_t byte) {
  switch (phase_) {
    case Phase::type: {
      if ((byte & 0x80) != 0) return Result::delta_corrupt;
      const uint8_t compression = byte & 0x0f;
      if (((byte >> 4) & 0x07) != kPatchTypeSequential) return Result::delta_unsupported;
      if (compression != kCompressionNone && compression != kCompressionHeatshrink) return Result::delta_unsupported;
      heatshrink_ = compression == kCompressionHeatshrink;
      phase_ = Phase::target_size;
      return Result::ok;
    }
    case Phase::target_size: {
      bool overflow = false;
      const bool complete = size_.push(byte, overflow);
      if (overflow) return Result::delta_corrupt;
      if (!complete) return Result::ok;
      if (size_.negative) return Result::delta_corrupt;
      target_size_ = static_cast<uint32_t>(size_.value);
      size_ = Varint();
      phase_ = heatshrink_ ? Phase::heatshrink_params : Phase::body;
      break;
    }
    case Phase::heatshrink_params:
      if (!heatshrink_decoder_.reset(static_cast<uint8_t>((byte >> 4) + 4), static_cast<uint8_t>((byte & 0x0f) + 3))) {
        return Result::delta_unsupported;
      }
      phase_ = Phase::body;
      break;
    case Phase::body:
    case Phase::failed:
      return Result::delta_corrupt;
  }
  if (phase_ == Phase::body) step_ = target_size_ == 0 ? Step::done : Step::data_format_size;
  return Result::ok;
}

size_t DetoolsApplier::decode(const uint8_t*& in, const uint8_t* end, uint8_t* out, size_t cap) {
  if (heatshrink_) return heatshrink_decoder_.decode(in, end, out, cap);
  const size_t available = static_cast<size_t>(end - in);
  const size_t n = available < cap ? available : cap;
  memcpy(out, in, n);
  in += n;
  return n;
}

void DetoolsApplier::next_step(Step s) {
  step_ = s;
  // An empty run goes straight to the size that follows it.
  if (step_ == Step::diff_data && left_ == 0) step_ = Step::extra_size;
  if (step_ == Step::extra_data && left_ == 0) step_ = Step::adjustment;
}

Result DetoolsApplier::take_size(uint8_t byte) {
  bool overflow = false;
  const bool complete = size_.push(byte, overflow);
  if (overflow) return Result::delta_corrupt;
  if (!complete) return Result::ok;
  const int64_t v = size_.get();
  size_ = Varint();
  switch (step_) {
    case Step::data_format_size:
      if (v < 0) return Result::delta_corrupt;
      // detools' data-format patches (for ARM/Xtensa code layouts) are not used by esp_delta_ota.
      if (v > 0) return Result::delta_unsupported;
      next_step(Step::diff_size);
      return Result::ok;
    case Step::diff_size:
    case Step::extra_size:
      if (v < 0 || v > static_cast<int64_t>(target_size_ - written_)) return Result::delta_corrupt;
      left_ = static_cast<uint32_t>(v);
      next_step(step_ == Step::diff_size ? Step::diff_data : Step::extra_data);
      return Result::ok;
    case Step::adjustment:
      base_pos_ += v;
      next_step(written_ == target_size_ ? Step::done : Step::diff_size);
      return Result::ok;
    default:
      return Result::delta_corrupt;
  }
}

Result DetoolsApplier::take_data(size_t n) {
  if (step_ == Step::diff_data) {
    if (base_pos_ < 0 || base_pos_ + static_cast<int64_t>(n) > static_cast<int64_t>(base_size_)) {
      return Result::delta_corrupt;
    }
    if (!base_->read(static_cast<uint32_t>(base_pos_), base_bytes_, n)) return Result::base_read_failed;
    for (size_t i = 0; i < n; ++i) data_[i] = static_cast<uint8_t>(data_[i] + base_bytes_[i]);
    base_pos_ += static_cast<int64_t>(n);
  }
  if (!out_->write(data_, n)) return Result::flash_write_failed;
  written_ += static_cast<uint32_t>(n);
  left_ -= static_cast<uint32_t>(n);
  if (left_ == 0) next_step(step_ == Step::diff_data ? Step::extra_size : Step::adjustment);
  return Result::ok;
}

Result DetoolsApplier::feed(const uint8_t* data, size_t len) {
  if (phase_ == Phase::failed) return failure_;
  const uint8_t* in = data;
  const uint8_t* const end = data + len;
  while (phase_ != Phase::body) {
    if (in == end) return Result::ok;
    const Result r = read_header_byte(*in++);
    if (r != Result::ok) return fail(r);
  }
  for (;;) {
    if (step_ == Step::done) return in == end ? Result::ok : fail(Result::delta_corrupt);
    const bool run = step_ == Step::diff_data || step_ == Step::extra_data;
    const size_t want = run ? (left_ < kChunk ? left_ : kChunk) : 1;
    const size_t n = decode(in, end, data_, want);
    if (n == 0) return Result::ok;  // wants more input
    const Result r = run ? take_data(n) : take_size(data_[0]);
    if (r != Result::ok) return fail(r);
  }
}

Result DetoolsApplier::finish() {
  if (phase_ == Phase::failed) return failure_;
  // Ended early, or inside a copy that runs past the last size.
  if (phase_ != Phase::body || step_ != Step::done) return fail(Result::delta_corrupt);
  if (heatshrink_ && !heatshrink_decoder_.at_boundary()) return fail(Result::delta_corrupt);
  return Result::ok;
}

}  // namespace ota_gate
