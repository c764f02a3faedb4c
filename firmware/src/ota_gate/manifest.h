// The signed manifest of GET /v1/manifest, parsed into fixed buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota_gate/result.h"

namespace ota_gate {

constexpr size_t kMaxManifestBody = 1024;

// The manifest's optional `delta` object: a patch from the image the device
// said it runs to this release (esp_delta_ota format).
struct DeltaOffer {
  bool present;            // false when absent or not in the expected form
  char format[24];         // "esp_delta_ota"
  char base_sha256[65];    // the running image it applies to
  char url[256];
  uint32_t size;           // of the patch file
  char sha256[65];         // of the patch file
};

struct Manifest {
  char board[33];
  char channel[33];
  char version[32];  // fits esp_app_desc_t.version
  uint32_t sequence;
  uint32_t size;
  char sha256[65];
  char md5[33];
  char url[256];
  char tag[65];
  char commit[41];
  char release_signature[128];  // base64 of a DER ECDSA P-256 signature
  char release_key_id[17];
  bool allow_downgrade;
  char issued_at[40];
  char expires_at[40];
  DeltaOffer delta;
};

// Parses a flat JSON object (unknown fields, including nested ones, are
// skipped; a repeated field is refused) and checks every field's form.
// The one nested object read is `delta`: a delta object whose fields are
// missing or malformed is dropped (delta.present false, the full image is
// used), not a reason to refuse the release. Returns ok or manifest_invalid.
Result parse_manifest(const char* body, size_t len, Manifest& out);

}  // namespace ota_gate
