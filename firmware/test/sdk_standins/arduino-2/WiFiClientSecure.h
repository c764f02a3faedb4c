// Signature stand-in for arduino-esp32 2.x's WiFiClientSecure.h. See ../README.md.
#pragma once

#include "WiFiClient.h"

class WiFiClientSecure : public WiFiClient {
 public:
  WiFiClientSecure();
  ~WiFiClientSecure();
  void setCACert(const char* rootCA);
};
