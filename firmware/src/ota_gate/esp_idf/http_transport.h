// HttpTransport on ESP-IDF's esp_http_client. Not compiled by the host
// build; built as part of the ESP-IDF component (firmware/CMakeLists.txt).
#pragma once

#include "esp_http_client.h"
#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace esp_idf {

class EspIdfHttpTransport : public HttpTransport {
 public:
  // `ca_cert_pem`: the CA that signed the server's TLS certificate, or null
  // to use ESP-IDF's certificate bundle (CONFIG_MBEDTLS_CERTIFICATE_BUNDLE).
  // The manifest signature is checked either way; TLS keeps the fleet's
  // traffic private and its reports honest.
  explicit EspIdfHttpTransport(const char* ca_cert_pem = nullptr, int timeout_ms = 15000)
      : ca_cert_pem_(ca_cert_pem), timeout_ms_(timeout_ms) {}
  ~EspIdfHttpTransport() override { close(); }

  bool open(const HttpRequest& request, HttpResponseHead& head) override;
  int read(uint8_t* buffer, size_t capacity) override;
  void close() override;

 private:
  static esp_err_t on_event(esp_http_client_event_t* event);

  const char* ca_cert_pem_;
  int timeout_ms_;
  esp_http_client_handle_t client_ = nullptr;
  HttpResponseHead* head_ = nullptr;
};

}  // namespace esp_idf
}  // namespace ota_gate
