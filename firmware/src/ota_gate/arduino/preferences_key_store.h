// The device key in NVS through Arduino-ESP32's Preferences: one bytes entry
// in its own namespace.
#pragma once

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace arduino {

class PreferencesKeyStore : public KeyStore {
 public:
  explicit PreferencesKeyStore(const char* name_space = "ota_gate", const char* key = "device_key")
      : namespace_(name_space), key_(key) {}
  bool load(uint8_t* buf, size_t capacity, size_t& len) override;
  bool save(const uint8_t* data, size_t len) override;

 private:
  const char* namespace_;
  const char* key_;
};

}  // namespace arduino
}  // namespace ota_gate
