#include "ota_gate/result.h"

namespace ota_gate {

const char* result_name(Result r) {
  switch (r) {
    case Result::ok: return "ok";
    case Result::no_update: return "no_update";
    case Result::bad_config: return "bad_config";
    case Result::transport_error: return "transport_error";
    case Result::http_status: return "http_status";
    case Result::no_release: return "no_release";
    case Result::no_content_length: return "no_content_length";
    case Result::bad_content_length: return "bad_content_length";
    case Result::body_too_large: return "body_too_large";
    case Result::short_body: return "short_body";
    case Result::manifest_invalid: return "manifest_invalid";
    case Result::board_mismatch: return "board_mismatch";
    case Result::channel_mismatch: return "channel_mismatch";
    case Result::manifest_unsigned: return "manifest_unsigned";
    case Result::unknown_server_key: return "unknown_server_key";
    case Result::manifest_signature_invalid: return "manifest_signature_invalid";
    case Result::unknown_release_key: return "unknown_release_key";
    case Result::release_signature_invalid: return "release_signature_invalid";
    case Result::manifest_expired: return "manifest_expired";
    case Result::bad_image_magic: return "bad_image_magic";
    case Result::bad_range: return "bad_range";
    case Result::download_failed: return "download_failed";
    case Result::size_mismatch: return "size_mismatch";
    case Result::sha256_mismatch: return "sha256_mismatch";
    case Result::flash_begin_failed: return "flash_begin_failed";
    case Result::flash_write_failed: return "flash_write_failed";
    case Result::flash_finish_failed: return "flash_finish_failed";
    case Result::set_bootable_failed: return "set_bootable_failed";
    case Result::report_failed: return "report_failed";
    case Result::crypto_error: return "crypto_error";
    case Result::delta_header_invalid: return "delta_header_invalid";
    case Result::delta_base_mismatch: return "delta_base_mismatch";
    case Result::delta_unsupported: return "delta_unsupported";
    case Result::delta_corrupt: return "delta_corrupt";
    case Result::base_read_failed: return "base_read_failed";
    case Result::device_pending: return "device_pending";
    case Result::device_rejected: return "device_rejected";
    case Result::device_not_enrolled: return "device_not_enrolled";
    case Result::key_store_failed: return "key_store_failed";
    case Result::unauthorized: return "unauthorized";
  }
  return "unknown";
}

}  // namespace ota_gate
