// Pinned ECDSA P-256 public keys and signature checks, on mbedTLS.
#pragma once

#include <cstddef>
#include <cstdint>

#include <mbedtls/pk.h>

#include "ota_gate/result.h"

namespace ota_gate {

constexpr size_t kMaxPinnedKeys = 4;

// Whether `der` is the SubjectPublicKeyInfo of a P-256 key (an uncompressed
// point), read from its bytes: mbedTLS 3.x makes the key structs private.
bool is_p256_spki(const unsigned char* der, int len);

// A set of pinned keys: the server's manifest key(s), or the release keys.
// Several at once, so a key can be rotated without bricking the fleet.
class KeyRing {
 public:
  KeyRing();
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Adds a PEM SubjectPublicKeyInfo of a P-256 key. False when the PEM does
  // not parse, the key is not P-256, or the ring is full.
  bool add_pem(const char* pem);
  size_t size() const { return count_; }
  // The contract's key id: first 16 hex of SHA-256 over the DER SPKI.
  const char* key_id(size_t index) const;

  // Verifies a base64 DER signature over SHA-256(message). When key_id is
  // given only the pinned key with that id is used (unknown key id:
  // `unknown`); when key_id is null or empty every pinned key is tried.
  Result verify(const char* key_id, const uint8_t* message, size_t message_len,
                const char* signature_b64, Result unknown, Result invalid) const;

 private:
  mbedtls_pk_context keys_[kMaxPinnedKeys];
  char ids_[kMaxPinnedKeys][17];
  size_t count_ = 0;
};

}  // namespace ota_gate
