#include "ota_gate/arduino/http_transport.h"

#include <cinttypes>
#include <cstdio>

#include "ota_gate/version.h"

namespace ota_gate {
namespace arduino {

namespace {
// HTTPClient keeps only the headers it is told to collect. A repeated
// header comes back joined with commas, which the core's strict parse refuses.
const char* kHeaders[] = {"Content-Length", "Content-Range", "X-OTA-Signature", "X-OTA-Key-Id"};
constexpr size_t kHeaderCount = sizeof kHeaders / sizeof kHeaders[0];
}  // namespace

bool ArduinoHttpTransport::open(const HttpRequest& request, HttpResponseHead& head) {
  close();
  head.reset();
  http_.setReuse(false);
  http_.setTimeout(static_cast<uint16_t>(timeout_ms_ > 65535 ? 65535 : timeout_ms_));
  http_.setFollowRedirects(HTTPC_DISABLE_FOLLOW_REDIRECTS);
  http_.setUserAgent(OTA_GATE_USER_AGENT " (arduino)");
  if (!http_.begin(client_, request.url)) return false;
  http_.collectHeaders(kHeaders, kHeaderCount);
  if (request.has_range) {
    char range[40];
    snprintf(range, sizeof range, "bytes=%" PRIu32 "-%" PRIu32, request.range_first, request.range_last);
    http_.addHeader("Range", range);
  }
  if (request.bearer_token != nullptr) http_.addHeader("Authorization", String("Bearer ") + request.bearer_token);
  int code;
  if (request.method == HttpMethod::post) {
    if (request.content_type != nullptr) http_.addHeader("Content-Type", request.content_type);
    code = http_.sendRequest("POST", const_cast<uint8_t*>(request.body), request.body_len);
  } else {
    code = http_.sendRequest("GET");
  }
  if (code <= 0) {
    http_.end();
    return false;
  }
  head.status = code;
  for (size_t i = 0; i < kHeaderCount; ++i) {
    if (http_.hasHeader(kHeaders[i])) head.capture(kHeaders[i], http_.header(kHeaders[i]).c_str());
  }
  stream_ = http_.getStreamPtr();
  return stream_ != nullptr;
}

int ArduinoHttpTransport::read(uint8_t* buffer, size_t capacity) {
  if (stream_ == nullptr) return -1;
  // The client's read() does not wait for data; wait here up to the timeout.
  const uint32_t start = millis();
  for (;;) {
    const int available = stream_->available();
    if (available > 0) {
      const size_t want = static_cast<size_t>(available) < capacity ? static_cast<size_t>(available) : capacity;
      return stream_->read(buffer, want);
    }
    if (!stream_->connected()) return 0;
    if (millis() - start > timeout_ms_) return -1;
    delay(2);
  }
}

void ArduinoHttpTransport::close() {
  http_.end();
  stream_ = nullptr;
}

}  // namespace arduino
}  // namespace ota_gate
