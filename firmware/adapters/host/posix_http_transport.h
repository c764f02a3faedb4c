// HTTP/1.1 over a POSIX TCP socket, for host builds and tests: plain http
// only, one request per connection (`Connection: close`), bodies read as
// raw bytes (the core counts them against Content-Length; chunked bodies are
// refused by the core because they carry no Content-Length).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace host {

class PosixHttpTransport : public HttpTransport {
 public:
  explicit PosixHttpTransport(uint32_t timeout_ms = 10000) : timeout_ms_(timeout_ms) {}
  ~PosixHttpTransport() override { close(); }

  bool open(const HttpRequest& request, HttpResponseHead& head) override;
  int read(uint8_t* buffer, size_t capacity) override;
  void close() override;

 private:
  bool connect_to(const char* host, const char* port);
  bool send_all(const void* data, size_t len);
  bool read_head(HttpResponseHead& head);

  uint32_t timeout_ms_;
  int fd_ = -1;
  char buffer_[4096];
  size_t pending_start_ = 0;  // body bytes that arrived with the head
  size_t pending_end_ = 0;
};

}  // namespace host
}  // namespace ota_gate
