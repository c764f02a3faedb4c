// HttpTransport on Arduino-ESP32's HTTPClient. The sketch owns the client it
// passes in: plain or TLS (WiFiClientSecure / NetworkClientSecure with setCACert).
#pragma once

#include <HTTPClient.h>
#include <esp_arduino_version.h>

#include "ota_gate/interfaces.h"

// arduino-esp32 3.x moved the socket client to the Network library as
// NetworkClient (WiFiClient is only an alias kept by the WiFi library), and
// its HTTPClient takes and returns a NetworkClient; 2.x has WiFiClient only.
#if ESP_ARDUINO_VERSION_MAJOR >= 3
#include <NetworkClient.h>
#else
#include <WiFiClient.h>
#endif

namespace ota_gate {
namespace arduino {

#if ESP_ARDUINO_VERSION_MAJOR >= 3
using NetClient = ::NetworkClient;
#else
using NetClient = ::WiFiClient;
#endif

class ArduinoHttpTransport : public HttpTransport {
 public:
  explicit ArduinoHttpTransport(NetClient& client, uint32_t timeout_ms = 15000)
      : client_(client), timeout_ms_(timeout_ms) {}
  ~ArduinoHttpTransport() override { close(); }

  bool open(const HttpRequest& request, HttpResponseHead& head) override;
  int read(uint8_t* buffer, size_t capacity) override;
  void close() override;

 private:
  NetClient& client_;
  uint32_t timeout_ms_;
  HTTPClient http_;
  NetClient* stream_ = nullptr;
};

}  // namespace arduino
}  // namespace ota_gate
