// Signature stand-in for arduino-esp32 2.x's WiFiClient.h (the WiFi library
// owns the socket client in 2.x; there is no NetworkClient). See ../README.md.
#pragma once

#include "Arduino.h"

class WiFiClient : public Client {
 public:
  WiFiClient();
  ~WiFiClient();
  size_t write(uint8_t data) override;
  size_t write(const uint8_t* buf, size_t size) override;
  int available() override;
  int read() override;
  int read(uint8_t* buf, size_t size);
  int peek() override;
  void stop() override;
  uint8_t connected() override;
};
