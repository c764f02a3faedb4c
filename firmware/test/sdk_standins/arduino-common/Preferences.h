// Signature stand-in for arduino-esp32's Preferences.h (2.x and 3.x). See ../README.md.
#pragma once

#include "Arduino.h"

class Preferences {
 public:
  Preferences();
  ~Preferences();
  bool begin(const char* name, bool readOnly = false, const char* partition_label = NULL);
  void end();
  size_t putString(const char* key, const char* value);
  size_t putString(const char* key, String value);
  size_t putBytes(const char* key, const void* value, size_t len);
  String getString(const char* key, String defaultValue = String());
  size_t getBytesLength(const char* key);
  size_t getBytes(const char* key, void* buf, size_t maxLen);
};
