#include "ota_gate/esp_idf/http_transport.h"

#include <cinttypes>
#include <cstdio>

#include "ota_gate/version.h"

#include "esp_crt_bundle.h"

namespace ota_gate {
namespace esp_idf {

esp_err_t EspIdfHttpTransport::on_event(esp_http_client_event_t* event) {
  auto* self = static_cast<EspIdfHttpTransport*>(event->user_data);
  // Headers are handed over raw; the core decides what a valid value is.
  if (event->event_id == HTTP_EVENT_ON_HEADER && self != nullptr && self->head_ != nullptr) {
    self->head_->capture(event->header_key, event->header_value);
  }
  return ESP_OK;
}

bool EspIdfHttpTransport::open(const HttpRequest& request, HttpResponseHead& head) {
  close();
  head.reset();
  head_ = &head;

  esp_http_client_config_t config = {};
  config.url = request.url;
  config.method = request.method == HttpMethod::post ? HTTP_METHOD_POST : HTTP_METHOD_GET;
  config.timeout_ms = timeout_ms_;
  config.event_handler = &EspIdfHttpTransport::on_event;
  config.user_data = this;
  config.disable_auto_redirect = true;  // a redirect is not part of the contract
  config.keep_alive_enable = false;
  config.buffer_size = 1024;
  config.buffer_size_tx = 1024;
  if (ca_cert_pem_ != nullptr) {
    config.cert_pem = ca_cert_pem_;
  } else {
    config.crt_bundle_attach = esp_crt_bundle_attach;
  }
  client_ = esp_http_client_init(&config);
  if (client_ == nullptr) return false;

  char range[40];
  if (request.has_range) {
    snprintf(range, sizeof range, "bytes=%" PRIu32 "-%" PRIu32, request.range_first, request.range_last);
    esp_http_client_set_header(client_, "Range", range);
  }
  if (request.content_type != nullptr) esp_http_client_set_header(client_, "Content-Type", request.content_type);
  char authorization[160];
  if (request.bearer_token != nullptr &&
      snprintf(authorization, sizeof authorization, "Bearer %s", request.bearer_token) < static_cast<int>(sizeof authorization)) {
    esp_http_client_set_header(client_, "Authorization", authorization);
  }
  esp_http_client_set_header(client_, "User-Agent", OTA_GATE_USER_AGENT " (esp-idf)");

  const int body_len = static_cast<int>(request.body_len);
  bool ok = esp_http_client_open(client_, body_len) == ESP_OK;
  if (ok && body_len > 0) {
    ok = esp_http_client_write(client_, reinterpret_cast<const char*>(request.body), body_len) == body_len;
  }
  if (ok) {
    // fetch_headers is negative both on an error and for a body without
    // Content-Length; the status code tells them apart (0 when no response
    // came), and the core refuses a missing Content-Length by itself.
    esp_http_client_fetch_headers(client_);
    head.status = esp_http_client_get_status_code(client_);
    ok = head.status >= 100;
  }
  if (!ok) close();
  return ok;
}

int EspIdfHttpTransport::read(uint8_t* buffer, size_t capacity) {
  if (client_ == nullptr) return -1;
  return esp_http_client_read(client_, reinterpret_cast<char*>(buffer), static_cast<int>(capacity));
}

void EspIdfHttpTransport::close() {
  if (client_ != nullptr) {
    esp_http_client_close(client_);
    esp_http_client_cleanup(client_);
  }
  client_ = nullptr;
  head_ = nullptr;
}

}  // namespace esp_idf
}  // namespace ota_gate
