// The one place that knows which mbedTLS major version is in use. ESP-IDF
// v4.x and Debian ship 2.x; ESP-IDF v5.x ships 3.x, where the SHA-256 calls
// lost their `_ret` suffix and private-key parsing and signing gained
// parameters. The pk, base64 and ECDSA calls the core uses are
// the same in both, and the core touches no struct field (private in 3.x).
#pragma once

#include <mbedtls/version.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ctr_drbg.h>

#if !defined(MBEDTLS_VERSION_NUMBER)
#error "mbedtls/version.h did not define MBEDTLS_VERSION_NUMBER"
#endif

// What the core uses; all on in ESP-IDF's and Debian's default configurations. A trimmed
// configuration gets this message instead of link errors.
#if !defined(MBEDTLS_PK_PARSE_C) || !defined(MBEDTLS_PK_WRITE_C) || !defined(MBEDTLS_PEM_PARSE_C) || \
    !defined(MBEDTLS_BASE64_C) || !defined(MBEDTLS_ECDSA_C) || !defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED) || \
    !defined(MBEDTLS_SHA256_C) || !defined(MBEDTLS_CTR_DRBG_C) || !defined(MBEDTLS_ENTROPY_C)
#error "ota-gate needs mbedTLS with PK_PARSE_C, PK_WRITE_C, PEM_PARSE_C, BASE64_C, ECDSA_C, ECP_DP_SECP256R1, SHA256_C, CTR_DRBG_C and ENTROPY_C"
#endif

namespace ota_gate {
namespace compat {

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
// 3.x takes an RNG to parse a private key (for blinding) and the signature buffer's size.
inline int pk_parse_key(mbedtls_pk_context* pk, const unsigned char* der, size_t len, mbedtls_ctr_drbg_context* drbg) {
  return mbedtls_pk_parse_key(pk, der, len, nullptr, 0, mbedtls_ctr_drbg_random, drbg);
}
inline int pk_sign(mbedtls_pk_context* pk, const unsigned char hash[32], unsigned char* sig, size_t sig_size, size_t* sig_len,
                   mbedtls_ctr_drbg_context* drbg) {
  return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_size, sig_len, mbedtls_ctr_drbg_random, drbg);
}
inline int sha256_starts(mbedtls_sha256_context* c) { return mbedtls_sha256_starts(c, 0); }
inline int sha256_update(mbedtls_sha256_context* c, const unsigned char* d, size_t n) {
  return mbedtls_sha256_update(c, d, n);
}
inline int sha256_finish(mbedtls_sha256_context* c, unsigned char out[32]) {
  return mbedtls_sha256_finish(c, out);
}
#elif MBEDTLS_VERSION_NUMBER >= 0x02070000
inline int pk_parse_key(mbedtls_pk_context* pk, const unsigned char* der, size_t len, mbedtls_ctr_drbg_context*) {
  return mbedtls_pk_parse_key(pk, der, len, nullptr, 0);
}
// sig must hold MBEDTLS_ECDSA_MAX_LEN bytes; 2.x does not take its size.
inline int pk_sign(mbedtls_pk_context* pk, const unsigned char hash[32], unsigned char* sig, size_t, size_t* sig_len,
                   mbedtls_ctr_drbg_context* drbg) {
  return mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len, mbedtls_ctr_drbg_random, drbg);
}
inline int sha256_starts(mbedtls_sha256_context* c) { return mbedtls_sha256_starts_ret(c, 0); }
inline int sha256_update(mbedtls_sha256_context* c, const unsigned char* d, size_t n) {
  return mbedtls_sha256_update_ret(c, d, n);
}
inline int sha256_finish(mbedtls_sha256_context* c, unsigned char out[32]) {
  return mbedtls_sha256_finish_ret(c, out);
}
#else
#error "ota-gate needs mbedTLS 2.7 or later"
#endif

}  // namespace compat
}  // namespace ota_gate
