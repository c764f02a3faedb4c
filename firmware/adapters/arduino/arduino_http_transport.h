// HttpTransport on Arduino-ESP32's HTTPClient. The sketch owns the
// WiFiClient (plain) or WiFiClientSecure (TLS, with setCACert) it passes in.
#pragma once

#include <HTTPClient.h>
#include <WiFiClient.h>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace arduino {

class ArduinoHttpTransport : public HttpTransport {
 public:
  explicit ArduinoHttpTransport(WiFiClient& client, uint32_t timeout_ms = 15000)
      : client_(client), timeout_ms_(timeout_ms) {}
  ~ArduinoHttpTransport() override { close(); }

  bool open(const HttpRequest& request, HttpResponseHead& head) override;
  int read(uint8_t* buffer, size_t capacity) override;
  void close() override;

 private:
  WiFiClient& client_;
  uint32_t timeout_ms_;
  HTTPClient http_;
  WiFiClient* stream_ = nullptr;
};

}  // namespace arduino
}  // namespace ota_gate
