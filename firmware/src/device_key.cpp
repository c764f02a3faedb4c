#include "ota_gate/device_key.h"

#include <cstring>

#include <mbedtls/base64.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>

#include "ota_gate/internal/mbedtls_compat.h"
#include "ota_gate/key_ring.h"
#include "ota_gate/sha256.h"

namespace ota_gate {

namespace {

constexpr size_t kMaxSpki = 160;
constexpr size_t kMaxSignature = 80;
const unsigned char kPersonalisation[] = "ota-gate device key";

}  // namespace

DeviceKey::DeviceKey() {
  mbedtls_pk_init(&pk_);
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&drbg_);
}

DeviceKey::~DeviceKey() {
  mbedtls_pk_free(&pk_);
  mbedtls_ctr_drbg_free(&drbg_);
  mbedtls_entropy_free(&entropy_);
}

bool DeviceKey::seed() {
  if (!seeded_) {
    seeded_ = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, kPersonalisation, sizeof kPersonalisation - 1) == 0;
  }
  return seeded_;
}

int DeviceKey::public_der(unsigned char* buf, size_t capacity, const unsigned char** der) const {
  // mbedtls_pk_write_pubkey_der takes a non-const context but does not change it; it writes at the end.
  const int len = mbedtls_pk_write_pubkey_der(const_cast<mbedtls_pk_context*>(&pk_), buf, capacity);
  if (len <= 0) return -1;
  *der = buf + capacity - static_cast<size_t>(len);
  return is_p256_spki(*der, len) ? len : -1;
}

bool DeviceKey::generate() {
  mbedtls_pk_free(&pk_);
  mbedtls_pk_init(&pk_);
  valid_ = seed() && mbedtls_pk_setup(&pk_, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0 &&
           mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk_), mbedtls_ctr_drbg_random, &drbg_) == 0;
  return valid_;
}

bool DeviceKey::load_der(const uint8_t* der, size_t len) {
  mbedtls_pk_free(&pk_);
  mbedtls_pk_init(&pk_);
  unsigned char spki[kMaxSpki];
  const unsigned char* p = nullptr;
  valid_ = der != nullptr && len > 0 && seed() && compat::pk_parse_key(&pk_, der, len, &drbg_) == 0 &&
           mbedtls_pk_can_do(&pk_, MBEDTLS_PK_ECDSA) && public_der(spki, sizeof spki, &p) > 0;
  if (!valid_) {
    mbedtls_pk_free(&pk_);
    mbedtls_pk_init(&pk_);
  }
  return valid_;
}

size_t DeviceKey::private_der(uint8_t* out, size_t capacity) const {
  if (!valid_) return 0;
  unsigned char buf[kMaxPrivateKeyDer + 64];
  const int len = mbedtls_pk_write_key_der(const_cast<mbedtls_pk_context*>(&pk_), buf, sizeof buf);
  if (len <= 0 || static_cast<size_t>(len) > capacity) return 0;
  memcpy(out, buf + sizeof buf - static_cast<size_t>(len), static_cast<size_t>(len));
  // The private scalar leaves no copy on the stack.
  mbedtls_platform_zeroize(buf, sizeof buf);
  return static_cast<size_t>(len);
}

bool DeviceKey::public_key_base64(char* out, size_t capacity) const {
  unsigned char buf[kMaxSpki];
  const unsigned char* der = nullptr;
  const int len = valid_ ? public_der(buf, sizeof buf, &der) : -1;
  size_t written = 0;
  return len > 0 && mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out), capacity, &written, der, static_cast<size_t>(len)) == 0;
}

bool DeviceKey::key_id(char out[17]) const {
  unsigned char buf[kMaxSpki];
  const unsigned char* der = nullptr;
  const int len = valid_ ? public_der(buf, sizeof buf, &der) : -1;
  uint8_t digest[32];
  Sha256 sha;
  if (len <= 0 || !sha.start() || !sha.update(der, static_cast<size_t>(len)) || !sha.finish(digest)) return false;
  char hex[65];
  to_lower_hex(digest, sizeof digest, hex);
  memcpy(out, hex, 16);
  out[16] = '\0';
  return true;
}

bool DeviceKey::sign_base64(const uint8_t* message, size_t len, char* out, size_t capacity) {
  uint8_t digest[32];
  Sha256 sha;
  if (!valid_ || !seed() || !sha.start() || !sha.update(message, len) || !sha.finish(digest)) return false;
  unsigned char signature[MBEDTLS_ECDSA_MAX_LEN > kMaxSignature ? MBEDTLS_ECDSA_MAX_LEN : kMaxSignature];
  size_t signature_len = 0;
  if (compat::pk_sign(&pk_, digest, signature, sizeof signature, &signature_len, &drbg_) != 0) return false;
  size_t written = 0;
  return mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out), capacity, &written, signature, signature_len) == 0;
}

}  // namespace ota_gate
