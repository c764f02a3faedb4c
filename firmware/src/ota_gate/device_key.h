// The device's own ECDSA P-256 key: made once (first boot), kept in a
// KeyStore, and used to prove who the device is to the server (a signed
// challenge buys a short-lived device token).
#pragma once

#include <cstddef>
#include <cstdint>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

namespace ota_gate {

// DER of a P-256 private key (SEC1 with its public point) fits in this.
constexpr size_t kMaxPrivateKeyDer = 160;

class DeviceKey {
 public:
  DeviceKey();
  ~DeviceKey();
  DeviceKey(const DeviceKey&) = delete;
  DeviceKey& operator=(const DeviceKey&) = delete;

  bool valid() const { return valid_; }
  // A fresh key from mbedTLS's CTR-DRBG over the platform's entropy.
  bool generate();
  // A private key as private_der() wrote it; false (and no key) unless it is P-256.
  bool load_der(const uint8_t* der, size_t len);
  // Writes the private key's DER at the start of out; returns its length, 0 on failure.
  size_t private_der(uint8_t* out, size_t capacity) const;
  // Base64 of the DER SubjectPublicKeyInfo, NUL-terminated.
  bool public_key_base64(char* out, size_t capacity) const;
  // The contract's key id: first 16 hex of SHA-256 of the DER SubjectPublicKeyInfo.
  bool key_id(char out[17]) const;
  // Base64 of a DER ECDSA signature over SHA-256(message), NUL-terminated.
  bool sign_base64(const uint8_t* message, size_t len, char* out, size_t capacity);

 private:
  bool seed();
  int public_der(unsigned char* buf, size_t capacity, const unsigned char** der) const;

  mbedtls_pk_context pk_;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  bool seeded_ = false;
  bool valid_ = false;
};

}  // namespace ota_gate
