// Streaming SHA-256 over mbedTLS, without heap use.
#pragma once

#include <cstddef>
#include <cstdint>

#include <mbedtls/sha256.h>

namespace ota_gate {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  bool start();
  bool update(const uint8_t* data, size_t len);
  bool finish(uint8_t digest[32]);
  // Convenience: lowercase hex of the digest, 65 bytes with the NUL.
  bool finish_hex(char out[65]);

 private:
  mbedtls_sha256_context context_;
};

void to_lower_hex(const uint8_t* data, size_t len, char* out);

}  // namespace ota_gate
