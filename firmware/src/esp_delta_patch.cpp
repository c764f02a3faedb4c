#include "ota_gate/esp_delta_patch.h"

#include <cstring>

#include "ota_gate/esp_image.h"
#include "ota_gate/sha256.h"

namespace ota_gate {

namespace {

constexpr size_t kDigestSize = 32;

}  // namespace

Result digest_base(ImageReader& base, uint32_t size, uint8_t* buffer, size_t buffer_len, uint8_t whole[32],
                   uint8_t header_digest[32]) {
  Sha256 sha;
  if (!sha.start()) return Result::crypto_error;
  bool hash_appended = false;
  for (uint32_t at = 0; at < size;) {
    const size_t n = size - at < buffer_len ? size - at : buffer_len;
    if (!base.read(at, buffer, n)) return Result::base_read_failed;
    if (at == 0 && n > kEspHashAppendedOffset) {
      hash_appended = buffer[0] == kEspImageMagic && buffer[kEspHashAppendedOffset] == 1;
    }
    if (!sha.update(buffer, n)) return Result::crypto_error;
    at += static_cast<uint32_t>(n);
  }
  if (!sha.finish(whole)) return Result::crypto_error;
  if (hash_appended && size >= kEspImageHeaderSize + kEspAppendedHashSize) {
    return base.read(size - kEspAppendedHashSize, header_digest, kEspAppendedHashSize) ? Result::ok : Result::base_read_failed;
  }
  memcpy(header_digest, whole, kDigestSize);
  return Result::ok;
}

void EspDeltaPatch::begin(const uint8_t base_digest[32], ImageReader& base, uint32_t base_size, ByteSink& out) {
  memcpy(base_digest_, base_digest, sizeof base_digest_);
  header_len_ = 0;
  failure_ = Result::ok;
  detools_.begin(base, base_size, out);
}

Result EspDeltaPatch::check_header() const {
  const uint32_t magic = static_cast<uint32_t>(header_[0]) | static_cast<uint32_t>(header_[1]) << 8 |
                         static_cast<uint32_t>(header_[2]) << 16 | static_cast<uint32_t>(header_[3]) << 24;
  if (magic != kDeltaMagic) return Result::delta_header_invalid;
  for (size_t i = 4 + kDigestSize; i < kDeltaHeaderSize; ++i) {
    if (header_[i] != 0) return Result::delta_header_invalid;
  }
  if (memcmp(header_ + 4, base_digest_, kDigestSize) != 0) return Result::delta_base_mismatch;
  return Result::ok;
}

Result EspDeltaPatch::feed(const uint8_t* data, size_t len) {
  if (failure_ != Result::ok) return failure_;
  if (header_len_ < kDeltaHeaderSize) {
    const size_t n = kDeltaHeaderSize - header_len_ < len ? kDeltaHeaderSize - header_len_ : len;
    memcpy(header_ + header_len_, data, n);
    header_len_ += n;
    data += n;
    len -= n;
    if (header_len_ < kDeltaHeaderSize) return Result::ok;
    failure_ = check_header();
    if (failure_ != Result::ok) return failure_;
  }
  if (len == 0) return Result::ok;
  failure_ = detools_.feed(data, len);
  return failure_;
}

Result EspDeltaPatch::finish() {
  if (failure_ != Result::ok) return failure_;
  if (header_len_ < kDeltaHeaderSize) return failure_ = Result::delta_header_invalid;
  return failure_ = detools_.finish();
}

}  // namespace ota_gate
