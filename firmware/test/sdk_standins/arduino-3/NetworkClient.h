// Signature stand-in for arduino-esp32 3.x's Network library NetworkClient.h:
// the socket client for Wi-Fi and Ethernet alike. See ../README.md.
#pragma once

#include "Arduino.h"

class NetworkClient : public Client {
 public:
  NetworkClient();
  ~NetworkClient();
  size_t write(uint8_t data) override;
  size_t write(const uint8_t* buf, size_t size) override;
  int available() override;
  int read() override;
  int read(uint8_t* buf, size_t size);
  int peek() override;
  void stop() override;
  uint8_t connected() override;
};
