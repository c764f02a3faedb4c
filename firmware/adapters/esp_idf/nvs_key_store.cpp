#include "ota_gate/esp_idf/nvs_key_store.h"

#include "nvs.h"

namespace ota_gate {
namespace esp_idf {

bool NvsKeyStore::load(uint8_t* buf, size_t capacity, size_t& len) {
  nvs_handle_t handle;
  if (nvs_open(namespace_, NVS_READONLY, &handle) != ESP_OK) return false;
  size_t size = capacity;
  const bool ok = nvs_get_blob(handle, key_, buf, &size) == ESP_OK && size > 0;
  nvs_close(handle);
  if (ok) len = size;
  return ok;
}

bool NvsKeyStore::save(const uint8_t* data, size_t len) {
  nvs_handle_t handle;
  if (nvs_open(namespace_, NVS_READWRITE, &handle) != ESP_OK) return false;
  // nvs_commit is what makes the write durable across a power cut.
  const bool ok = nvs_set_blob(handle, key_, data, len) == ESP_OK && nvs_commit(handle) == ESP_OK;
  nvs_close(handle);
  return ok;
}

}  // namespace esp_idf
}  // namespace ota_gate
