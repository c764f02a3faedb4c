// The device-side OTA client: poll, verify, decide, download, report.
//
// One OtaClient lives for the whole program (allocate it statically); it
// owns fixed buffers for the manifest body and for download I/O, and does
// no allocation of its own after construction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota_gate/decision.h"
#include "ota_gate/device_key.h"
#include "ota_gate/esp_delta_patch.h"
#include "ota_gate/interfaces.h"
#include "ota_gate/key_ring.h"
#include "ota_gate/manifest.h"
#include "ota_gate/result.h"

namespace ota_gate {

#ifndef OTA_GATE_IO_BUFFER
#define OTA_GATE_IO_BUFFER 1024
#endif

struct OtaConfig {
  const char* server_url = nullptr;  // e.g. "https://ota.example.com", no trailing slash needed
  const char* board = nullptr;       // e.g. "esp32cam"
  const char* channel = "stable";
  const char* device_mac = nullptr;  // any form the contract accepts
  const char* version = nullptr;     // the running firmware's label
  uint32_t sequence = 0;             // the running firmware's sequence (0: hand-built)
  const KeyRing* server_keys = nullptr;   // pinned manifest signing keys
  const KeyRing* release_keys = nullptr;  // pinned release keys
  uint32_t chunk_size = 16 * 1024;   // 4 KiB ... 64 KiB per Range request
  uint8_t max_retries = 5;           // consecutive failed chunk attempts
  uint32_t retry_delay_ms = 1000;    // doubled on each consecutive failure, capped at 30 s
  // Set to ask for delta updates (esp_delta_ota patches against the running
  // image); null: full images only.
  RunningImage* running_image = nullptr;
  // Device credentials. With a key store the device makes its P-256 key once
  // (kept in the store), enrolls it, and sends a device token with every
  // poll, download and report; without one it sends no credentials.
  KeyStore* key_store = nullptr;
  const char* enrollment_token = nullptr;  // a batch's token: accepted at once when valid
};

enum class ReportStatus : uint8_t { downloading, downloaded, installed, booted, failed, rolled_back, delta_failed };
const char* report_status_name(ReportStatus s);

struct DownloadStats {
  uint32_t bytes_written = 0;  // of the full image
  uint32_t patch_bytes = 0;    // of a delta patch
  uint32_t requests = 0;
  uint32_t retries = 0;
  bool delta_tried = false;
  Result delta_result = Result::ok;  // when tried: ok (installed from the patch) or why it was abandoned
};

class ChunkConsumer;

class OtaClient {
 public:
  OtaClient(const OtaConfig& config, HttpTransport& http, FlashWriter& flash, Clock& clock);

  // Poll and verify; on ok, `manifest` is trusted and `decision()` says
  // whether to install it.
  Result check(Manifest& manifest);
  // Download a verified manifest's image into the slot, check its size and
  // SHA-256, and mark it bootable. Reports downloading, downloaded,
  // installed, or failed with the reason. When the manifest offers a delta
  // for the running image, the image is first rebuilt from the patch; if
  // that fails for any reason, delta_failed is reported (the reason as
  // detail), the slot is aborted, and the full image is downloaded.
  Result install(const Manifest& manifest);
  // check() then install() when the decision is update. Returns ok when a
  // new image is bootable (the caller reboots), no_update, or the failure.
  Result update();

  // POST /v1/devices/:device/reports. `detail` may be null.
  Result report(ReportStatus status, const char* version, uint32_t sequence, const char* detail);
  // After rebooting into a new image: report that the running version booted.
  Result report_booted() { return report(ReportStatus::booted, config_.version, config_.sequence, nullptr); }

  // Loads (or makes and stores) the device key, enrolls it if the server does
  // not know it, and trades a signed challenge for a device token. check()
  // and report() call it when they need a token; ok once one is held.
  Result authenticate();
  // The outcome of the last authenticate() (ok before any).
  Result credentials() const { return credentials_; }
  bool has_token() const { return token_[0] != '\0'; }

  // Meaningful after check() or update() returned ok or no_update.
  Decision decision() const { return decision_; }
  const DownloadStats& stats() const { return stats_; }
  // Status code of the last response the server sent (0 before any), for logs.
  int last_http_status() const { return last_http_status_; }
  const Manifest& last_manifest() const { return manifest_; }

 private:
  Result validate_config() const;
  Result fetch_manifest(HttpResponseHead& head, uint32_t& body_len);
  Result verify_manifest(const HttpResponseHead& head, uint32_t body_len, Manifest& m);
  bool kept_running_digest(char out[65]) const;
  bool wants_delta(const Manifest& m) const;
  Result install_delta(const Manifest& m);
  Result install_full(const Manifest& m);
  Result download(const char* url, uint32_t size, ChunkConsumer& consumer, uint32_t& offset);
  Result fetch_chunk(const char* url, uint32_t size, uint32_t& offset, ChunkConsumer& consumer, bool& progressed);
  Result read_body(uint32_t len, uint8_t* out);
  Result fail(const Manifest& m, Result reason, bool began);
  void prepare_credentials();
  const char* bearer() const { return token_[0] != '\0' ? token_ : nullptr; }
  Result load_or_make_key(bool& made);
  Result enroll();
  Result fetch_token();
  // A request to {server}/v1/devices/{mac}{suffix}; the answer's body (at most
  // 1 KiB) lands in body_. `status` is 0 when no answer came.
  Result device_call(const char* suffix, const char* json, int& status, uint32_t& body_len);

  OtaConfig config_;
  HttpTransport& http_;
  FlashWriter& flash_;
  Clock& clock_;
  char mac_[13];
  Decision decision_ = Decision::same_version;
  DownloadStats stats_;
  int last_http_status_ = 0;
  Manifest manifest_;
  char body_[kMaxManifestBody + 1];
  char url_[384];
  DeviceKey key_;
  char token_[128];
  int64_t token_expires_ = 0;
  bool credentials_tried_ = false;
  Result credentials_ = Result::ok;
  uint8_t io_[OTA_GATE_IO_BUFFER];
  EspDeltaPatch delta_patch_;
};

}  // namespace ota_gate
