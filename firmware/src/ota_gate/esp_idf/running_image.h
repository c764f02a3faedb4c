// RunningImage on ESP-IDF: the running app partition as the base of delta
// updates, read with esp_partition_read, and the SHA-256 the device keeps
// of each slot's image in NVS (one key per partition label).
//
// Deltas are applied by the project's applier (src/detools_applier.cpp,
// the code tested on the host), not by the esp_delta_ota component: the
// patches are the same files, so a firmware may use either.
#pragma once

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace esp_idf {

class EspIdfRunningImage : public RunningImage {
 public:
  // nvs_flash_init() must have run. `nvs_namespace` holds the digests.
  explicit EspIdfRunningImage(const char* nvs_namespace = "ota_gate") : namespace_(nvs_namespace) {}

  // The image's length (esp_image_get_metadata), not the partition's.
  uint32_t size() override;
  bool read(uint32_t offset, uint8_t* out, size_t len) override;
  // The digest kept for the running slot. A slot with none (flashed over
  // serial, or before this firmware) is hashed once and the digest kept.
  bool sha256(char out[65]) override;
  // Keeps the digest for the slot that boots next (esp_ota_get_boot_partition).
  bool remember_next(const char* sha256_hex) override;

 private:
  bool hash_running(char out[65]);

  const char* namespace_;
  uint32_t size_ = 0;
};

}  // namespace esp_idf
}  // namespace ota_gate
