// Outcomes of every step of the OTA client. Names double as the short
// reasons sent in `failed` reports, so they stay stable.
#pragma once

#include <cstdint>

namespace ota_gate {

enum class Result : uint8_t {
  ok,
  no_update,               // verified manifest, but the decision rule says stay
  bad_config,
  transport_error,         // could not connect, send, or read a response head
  http_status,             // an unexpected status code
  no_release,              // 404 from the manifest endpoint
  no_content_length,       // the body has no Content-Length (e.g. chunked)
  bad_content_length,      // not a plain decimal, or conflicting values
  body_too_large,          // manifest over 1024 bytes
  short_body,              // the connection ended before Content-Length bytes
  manifest_invalid,        // not the flat JSON object of the contract
  board_mismatch,
  channel_mismatch,
  manifest_unsigned,       // no X-OTA-Signature header
  unknown_server_key,      // signed by a key that is not pinned
  manifest_signature_invalid,
  unknown_release_key,     // release statement signed by an unpinned key
  release_signature_invalid,
  manifest_expired,
  bad_image_magic,
  bad_range,               // Content-Range missing or not what was asked
  download_failed,         // retries exhausted
  size_mismatch,
  sha256_mismatch,
  flash_begin_failed,      // includes an image larger than the slot
  flash_write_failed,
  flash_finish_failed,
  set_bootable_failed,
  report_failed,
  crypto_error,
  // Delta updates (each makes the client fall back to the full image).
  delta_header_invalid,    // not an esp_delta_ota header (magic, reserved bytes)
  delta_base_mismatch,     // the patch or the running image is not the base the manifest names
  delta_unsupported,       // another detools patch type, compression or heatshrink window
  delta_corrupt,           // the patch does not decode to an image of the promised size
  base_read_failed,        // the running image could not be read
  device_pending,          // enrolled; an operator has not accepted the key yet
  device_rejected,         // the key was rejected or revoked by an operator
  device_not_enrolled,     // the server does not know the device's key
  key_store_failed,        // the device key could not be loaded, made or saved
  unauthorized,            // 401 although the device did what it could
};

// Stable snake_case name, e.g. "sha256_mismatch".
const char* result_name(Result r);

}  // namespace ota_gate
