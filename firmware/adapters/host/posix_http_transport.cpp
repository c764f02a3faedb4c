#include "posix_http_transport.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ota_gate/version.h"

namespace ota_gate {
namespace host {

namespace {

struct ParsedUrl {
  char host[128];
  char port[8];
  const char* path;  // points into the URL, "/" when it has none
};

bool parse_http_url(const char* url, ParsedUrl& out) {
  if (strncmp(url, "http://", 7) != 0) return false;  // no TLS on the host build
  const char* p = url + 7;
  const char* host_end = p;
  while (*host_end != '\0' && *host_end != ':' && *host_end != '/') ++host_end;
  const size_t host_len = static_cast<size_t>(host_end - p);
  if (host_len == 0 || host_len >= sizeof out.host) return false;
  memcpy(out.host, p, host_len);
  out.host[host_len] = '\0';
  p = host_end;
  strcpy(out.port, "80");
  if (*p == ':') {
    ++p;
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9') ++n;
    if (n == 0 || n >= sizeof out.port) return false;
    memcpy(out.port, p, n);
    out.port[n] = '\0';
    p += n;
  }
  if (*p != '\0' && *p != '/') return false;
  out.path = *p == '\0' ? "/" : p;
  return true;
}

}  // namespace

bool PosixHttpTransport::connect_to(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host, port, &hints, &found) != 0) return false;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    fd_ = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd_ < 0) continue;
    timeval tv{};
    tv.tv_sec = timeout_ms_ / 1000;
    tv.tv_usec = static_cast<suseconds_t>((timeout_ms_ % 1000) * 1000);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0) break;
    ::close(fd_);
    fd_ = -1;
  }
  freeaddrinfo(found);
  return fd_ >= 0;
}

bool PosixHttpTransport::send_all(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t n = ::send(fd_, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool PosixHttpTransport::read_head(HttpResponseHead& head) {
  size_t used = 0;
  char* end = nullptr;
  while (end == nullptr) {
    if (used == sizeof buffer_ - 1) return false;  // a head this long is not ours
    const ssize_t n = ::recv(fd_, buffer_ + used, sizeof buffer_ - 1 - used, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    used += static_cast<size_t>(n);
    buffer_[used] = '\0';
    end = strstr(buffer_, "\r\n\r\n");
  }
  pending_start_ = static_cast<size_t>(end - buffer_) + 4;
  pending_end_ = used;

  int major = 0, minor = 0, status = 0;
  if (sscanf(buffer_, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 || status > 599) return false;
  head.status = status;
  char* line = strstr(buffer_, "\r\n") + 2;
  while (line < end) {
    char* eol = strstr(line, "\r\n");
    char* colon = static_cast<char*>(memchr(line, ':', static_cast<size_t>(eol - line)));
    if (colon != nullptr) {
      head.capture(line, static_cast<size_t>(colon - line), colon + 1, static_cast<size_t>(eol - colon - 1));
    }
    line = eol + 2;
  }
  return true;
}

bool PosixHttpTransport::open(const HttpRequest& request, HttpResponseHead& head) {
  close();
  head.reset();
  ParsedUrl url;
  if (request.url == nullptr || !parse_http_url(request.url, url)) return false;
  if (!connect_to(url.host, url.port)) return false;

  char lines[1024];
  int n = snprintf(lines, sizeof lines,
                   "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: " OTA_GATE_USER_AGENT "\r\n"
                   "Connection: close\r\nAccept: */*\r\n",
                   request.method == HttpMethod::post ? "POST" : "GET", url.path, url.host, url.port);
  if (n > 0 && request.has_range) {
    n += snprintf(lines + n, sizeof lines - static_cast<size_t>(n), "Range: bytes=%" PRIu32 "-%" PRIu32 "\r\n",
                  request.range_first, request.range_last);
  }
  if (n > 0 && request.bearer_token != nullptr) {
    n += snprintf(lines + n, sizeof lines - static_cast<size_t>(n), "Authorization: Bearer %s\r\n", request.bearer_token);
  }
  if (n > 0 && request.method == HttpMethod::post) {
    n += snprintf(lines + n, sizeof lines - static_cast<size_t>(n), "Content-Type: %s\r\nContent-Length: %zu\r\n",
                  request.content_type != nullptr ? request.content_type : "application/octet-stream",
                  request.body_len);
  }
  if (n > 0) n += snprintf(lines + n, sizeof lines - static_cast<size_t>(n), "\r\n");
  const bool sent = n > 0 && static_cast<size_t>(n) < sizeof lines && send_all(lines, static_cast<size_t>(n)) &&
                    (request.body_len == 0 || send_all(request.body, request.body_len));
  if (!sent || !read_head(head)) {
    close();
    return false;
  }
  return true;
}

int PosixHttpTransport::read(uint8_t* buffer, size_t capacity) {
  if (fd_ < 0) return -1;
  if (pending_start_ < pending_end_) {
    size_t n = pending_end_ - pending_start_;
    if (n > capacity) n = capacity;
    memcpy(buffer, buffer_ + pending_start_, n);
    pending_start_ += n;
    return static_cast<int>(n);
  }
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, capacity, 0);
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -1 : static_cast<int>(n);
  }
}

void PosixHttpTransport::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pending_start_ = pending_end_ = 0;
}

}  // namespace host
}  // namespace ota_gate
