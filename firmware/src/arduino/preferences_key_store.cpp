#include "ota_gate/arduino/preferences_key_store.h"

#include <Preferences.h>

namespace ota_gate {
namespace arduino {

bool PreferencesKeyStore::load(uint8_t* buf, size_t capacity, size_t& len) {
  Preferences prefs;
  if (!prefs.begin(namespace_, true)) return false;
  const size_t size = prefs.getBytesLength(key_);
  const bool ok = size > 0 && size <= capacity && prefs.getBytes(key_, buf, capacity) == size;
  prefs.end();
  if (ok) len = size;
  return ok;
}

bool PreferencesKeyStore::save(const uint8_t* data, size_t len) {
  Preferences prefs;
  if (!prefs.begin(namespace_, false)) return false;
  // putBytes commits before it returns.
  const bool ok = prefs.putBytes(key_, data, len) == len;
  prefs.end();
  return ok;
}

}  // namespace arduino
}  // namespace ota_gate
