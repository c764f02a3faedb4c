// The device key in NVS (ESP-IDF): one blob in its own namespace. Encrypt
// NVS (CONFIG_NVS_ENCRYPTION with flash encryption) so the key cannot be
// read off the flash chip.
#pragma once

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace esp_idf {

class NvsKeyStore : public KeyStore {
 public:
  // nvs_flash_init() must have run; names are at most 15 characters.
  explicit NvsKeyStore(const char* name_space = "ota_gate", const char* key = "device_key")
      : namespace_(name_space), key_(key) {}
  bool load(uint8_t* buf, size_t capacity, size_t& len) override;
  bool save(const uint8_t* data, size_t len) override;

 private:
  const char* namespace_;
  const char* key_;
};

}  // namespace esp_idf
}  // namespace ota_gate
