#include "ota_gate/key_ring.h"

#include <cstring>

#include <mbedtls/base64.h>

#include "ota_gate/internal/mbedtls_compat.h"
#include "ota_gate/sha256.h"

namespace ota_gate {

namespace {

// A DER ECDSA P-256 signature is at most 72 bytes; leave room for sloppy encoders.
constexpr size_t kMaxSignature = 80;
// SubjectPublicKeyInfo of an uncompressed P-256 point is 91 bytes.
constexpr size_t kMaxSpki = 160;

// The DER SubjectPublicKeyInfo of every P-256 key starts with these bytes
// (id-ecPublicKey, prime256v1, an uncompressed point). Checking them needs
// no access to mbedTLS structs, whose fields are private in 3.x.
const unsigned char kP256SpkiPrefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
                                         0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                                         0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
constexpr int kP256SpkiLength = 91;

bool sha256_of(const uint8_t* data, size_t len, uint8_t digest[32]) {
  Sha256 sha;
  return sha.start() && sha.update(data, len) && sha.finish(digest);
}

}  // namespace

bool is_p256_spki(const unsigned char* der, int len) {
  return len == kP256SpkiLength && memcmp(der, kP256SpkiPrefix, sizeof kP256SpkiPrefix) == 0;
}

KeyRing::KeyRing() {
  for (auto& key : keys_) mbedtls_pk_init(&key);
  for (auto& id : ids_) id[0] = '\0';
}

KeyRing::~KeyRing() {
  for (auto& key : keys_) mbedtls_pk_free(&key);
}

bool KeyRing::add_pem(const char* pem) {
  if (pem == nullptr || count_ == kMaxPinnedKeys) return false;
  mbedtls_pk_context& key = keys_[count_];
  // mbedTLS wants the PEM's terminating NUL counted in the length.
  if (mbedtls_pk_parse_public_key(&key, reinterpret_cast<const unsigned char*>(pem),
                                  strlen(pem) + 1) != 0) {
    mbedtls_pk_free(&key);
    mbedtls_pk_init(&key);
    return false;
  }
  unsigned char der[kMaxSpki];
  const int der_len = mbedtls_pk_write_pubkey_der(&key, der, sizeof der);
  // mbedtls_pk_write_pubkey_der writes at the end of the buffer.
  const unsigned char* spki = der + sizeof der - (der_len > 0 ? der_len : 0);
  uint8_t digest[32];
  if (!is_p256_spki(spki, der_len) || !sha256_of(spki, static_cast<size_t>(der_len), digest)) {
    mbedtls_pk_free(&key);
    mbedtls_pk_init(&key);
    return false;
  }
  char hex[65];
  to_lower_hex(digest, sizeof digest, hex);
  memcpy(ids_[count_], hex, 16);
  ids_[count_][16] = '\0';
  ++count_;
  return true;
}

const char* KeyRing::key_id(size_t index) const { return index < count_ ? ids_[index] : ""; }

Result KeyRing::verify(const char* key_id, const uint8_t* message, size_t message_len,
                       const char* signature_b64, Result unknown, Result invalid) const {
  unsigned char signature[kMaxSignature];
  size_t signature_len = 0;
  if (signature_b64 == nullptr ||
      mbedtls_base64_decode(signature, sizeof signature, &signature_len,
                            reinterpret_cast<const unsigned char*>(signature_b64),
                            strlen(signature_b64)) != 0 ||
      signature_len == 0) {
    return invalid;
  }
  uint8_t digest[32];
  if (!sha256_of(message, message_len, digest)) return Result::crypto_error;

  const bool by_id = key_id != nullptr && key_id[0] != '\0';
  bool tried = false;
  for (size_t i = 0; i < count_; ++i) {
    if (by_id && strcmp(ids_[i], key_id) != 0) continue;
    tried = true;
    // mbedtls_pk_verify takes a non-const context (2.x and 3.x alike) but does not change it.
    mbedtls_pk_context* key = const_cast<mbedtls_pk_context*>(&keys_[i]);
    if (mbedtls_pk_verify(key, MBEDTLS_MD_SHA256, digest, sizeof digest, signature, signature_len) == 0) {
      return Result::ok;
    }
  }
  return tried ? invalid : unknown;
}

}  // namespace ota_gate
