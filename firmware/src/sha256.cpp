#include "ota_gate/sha256.h"

#include "ota_gate/internal/mbedtls_compat.h"

namespace ota_gate {

Sha256::Sha256() { mbedtls_sha256_init(&context_); }

Sha256::~Sha256() { mbedtls_sha256_free(&context_); }

bool Sha256::start() { return compat::sha256_starts(&context_) == 0; }

bool Sha256::update(const uint8_t* data, size_t len) {
  return compat::sha256_update(&context_, data, len) == 0;
}

bool Sha256::finish(uint8_t digest[32]) { return compat::sha256_finish(&context_, digest) == 0; }

bool Sha256::finish_hex(char out[65]) {
  uint8_t digest[32];
  if (!finish(digest)) return false;
  to_lower_hex(digest, sizeof digest, out);
  return true;
}

void to_lower_hex(const uint8_t* data, size_t len, char* out) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0x0f];
  }
  out[2 * len] = '\0';
}

}  // namespace ota_gate
