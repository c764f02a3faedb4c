#include "ota_gate/esp_idf/running_image.h"

#include <cstring>

#include "esp_image_format.h"
#include "esp_ota_ops.h"
#include "nvs.h"
#include "ota_gate/identifiers.h"
#include "ota_gate/sha256.h"

namespace ota_gate {
namespace esp_idf {

namespace {

bool keep_digest(const char* ns, const esp_partition_t* partition, const char* hex) {
  nvs_handle_t handle;
  if (partition == nullptr || nvs_open(ns, NVS_READWRITE, &handle) != ESP_OK) return false;
  // NVS keys are at most 15 characters; partition labels ("ota_0") fit.
  const bool ok = nvs_set_str(handle, partition->label, hex) == ESP_OK && nvs_commit(handle) == ESP_OK;
  nvs_close(handle);
  return ok;
}

}  // namespace

uint32_t EspIdfRunningImage::size() {
  if (size_ != 0) return size_;
  const esp_partition_t* running = esp_ota_get_running_partition();
  if (running == nullptr) return 0;
  const esp_partition_pos_t pos = {running->address, running->size};
  esp_image_metadata_t metadata;
  if (esp_image_get_metadata(&pos, &metadata) != ESP_OK) return 0;
  // Includes the checksum padding and the appended SHA-256: the .bin file's length. Were it ever
  // not, the whole-file SHA-256 check against the kept digest refuses the delta (full image instead).
  size_ = metadata.image_len;
  return size_;
}

bool EspIdfRunningImage::read(uint32_t offset, uint8_t* out, size_t len) {
  const esp_partition_t* running = esp_ota_get_running_partition();
  return running != nullptr && offset <= running->size && len <= running->size - offset &&
         esp_partition_read(running, offset, out, len) == ESP_OK;
}

bool EspIdfRunningImage::hash_running(char out[65]) {
  const uint32_t total = size();
  if (total == 0) return false;
  Sha256 sha;
  uint8_t buffer[512];
  if (!sha.start()) return false;
  for (uint32_t at = 0; at < total;) {
    const size_t n = total - at < sizeof buffer ? total - at : sizeof buffer;
    if (!read(at, buffer, n) || !sha.update(buffer, n)) return false;
    at += static_cast<uint32_t>(n);
  }
  return sha.finish_hex(out);
}

bool EspIdfRunningImage::sha256(char out[65]) {
  const esp_partition_t* running = esp_ota_get_running_partition();
  if (running == nullptr) return false;
  nvs_handle_t handle;
  if (nvs_open(namespace_, NVS_READONLY, &handle) == ESP_OK) {
    size_t len = 65;
    const bool found = nvs_get_str(handle, running->label, out, &len) == ESP_OK && is_lower_hex(out, 64);
    nvs_close(handle);
    if (found) return true;
  }
  if (!hash_running(out)) return false;
  keep_digest(namespace_, running, out);
  return true;
}

bool EspIdfRunningImage::remember_next(const char* sha256_hex) {
  return is_lower_hex(sha256_hex, 64) && keep_digest(namespace_, esp_ota_get_boot_partition(), sha256_hex);
}

}  // namespace esp_idf
}  // namespace ota_gate
