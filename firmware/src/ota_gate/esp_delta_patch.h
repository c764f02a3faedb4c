// esp_delta_ota's patch file: a 64-byte header, then a detools sequential
// patch (DetoolsApplier).
//
// Header: bytes 0..3 the magic 0xfccdde10 (little-endian), bytes 4..35 the
// base image's validation hash (what ESP-IDF's esp_partition_get_sha256
// gives for the running app: the SHA-256 appended to the image), bytes
// 36..63 zero.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota_gate/detools_applier.h"
#include "ota_gate/interfaces.h"
#include "ota_gate/result.h"

namespace ota_gate {

constexpr size_t kDeltaHeaderSize = 64;
constexpr uint32_t kDeltaMagic = 0xfccdde10;
constexpr char kDeltaFormat[] = "esp_delta_ota";

// Reads the base once through `buffer`: its whole-file SHA-256, and the
// digest an esp_delta_ota header names it by: the appended SHA-256 (the
// last 32 bytes) of an ESP image whose header says one is appended,
// otherwise the whole-file SHA-256. base_read_failed or crypto_error on
// failure.
Result digest_base(ImageReader& base, uint32_t size, uint8_t* buffer, size_t buffer_len, uint8_t whole[32],
                   uint8_t header_digest[32]);

class EspDeltaPatch {
 public:
  // `base_digest` is what the header must name (digest_base's header_digest).
  void begin(const uint8_t base_digest[32], ImageReader& base, uint32_t base_size, ByteSink& out);
  // delta_header_invalid (magic or reserved bytes), delta_base_mismatch
  // (the header names another base), or what DetoolsApplier::feed says.
  Result feed(const uint8_t* data, size_t len);
  Result finish();
  const DetoolsApplier& applier() const { return detools_; }

 private:
  Result check_header() const;

  uint8_t header_[kDeltaHeaderSize] = {};
  uint8_t base_digest_[32] = {};
  size_t header_len_ = 0;
  Result failure_ = Result::ok;
  DetoolsApplier detools_;
};

}  // namespace ota_gate
