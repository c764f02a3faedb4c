#include "ota_gate/http_fields.h"

#include <cstring>
#include <strings.h>

namespace ota_gate {

namespace {

// Copies a header value unless it does not fit; a repeated header must
// carry the same value (two Content-Lengths that differ are an attack).
void store(HttpResponseHead& head, char* field, size_t capacity, const char* value, size_t len) {
  if (len >= capacity) {
    head.malformed = true;
    return;
  }
  if (field[0] != '\0' && (strlen(field) != len || memcmp(field, value, len) != 0)) {
    head.malformed = true;
    return;
  }
  memcpy(field, value, len);
  field[len] = '\0';
}

bool name_is(const char* name, size_t len, const char* wanted) {
  return strlen(wanted) == len && strncasecmp(name, wanted, len) == 0;
}

// Reads decimal digits into a uint64 without overflow; stops at the first non-digit.
const char* read_u32(const char* p, uint32_t& out) {
  uint64_t v = 0;
  const char* start = p;
  while (*p >= '0' && *p <= '9') {
    v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (v > 0xffffffffull) return nullptr;
    ++p;
  }
  if (p == start) return nullptr;
  out = static_cast<uint32_t>(v);
  return p;
}

}  // namespace

void HttpResponseHead::reset() { *this = HttpResponseHead(); }

void HttpResponseHead::capture(const char* name, const char* value) {
  capture(name, strlen(name), value, strlen(value));
}

void HttpResponseHead::capture(const char* name, size_t name_len, const char* value, size_t value_len) {
  // Header values arrive with optional whitespace around them.
  while (value_len > 0 && (*value == ' ' || *value == '\t')) {
    ++value;
    --value_len;
  }
  while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t')) --value_len;

  if (name_is(name, name_len, "Content-Length")) {
    has_content_length = true;
    store(*this, content_length, sizeof content_length, value, value_len);
  } else if (name_is(name, name_len, "Content-Range")) {
    store(*this, content_range, sizeof content_range, value, value_len);
  } else if (name_is(name, name_len, "X-OTA-Signature")) {
    store(*this, ota_signature, sizeof ota_signature, value, value_len);
  } else if (name_is(name, name_len, "X-OTA-Key-Id")) {
    store(*this, ota_key_id, sizeof ota_key_id, value, value_len);
  }
}

Result parse_content_length(const HttpResponseHead& head, uint32_t max, uint32_t& out) {
  if (!head.has_content_length) return Result::no_content_length;
  if (head.malformed) return Result::bad_content_length;
  const char* s = head.content_length;
  if (s[0] == '\0' || strlen(s) > 10) return Result::bad_content_length;
  uint32_t value = 0;
  const char* end = read_u32(s, value);
  if (end == nullptr || *end != '\0') return Result::bad_content_length;
  if (value > max) return Result::body_too_large;
  out = value;
  return Result::ok;
}

bool parse_content_range(const char* value, ContentRange& out) {
  if (value == nullptr || strncmp(value, "bytes ", 6) != 0) return false;
  const char* p = read_u32(value + 6, out.first);
  if (p == nullptr || *p != '-') return false;
  p = read_u32(p + 1, out.last);
  if (p == nullptr || *p != '/') return false;
  p = read_u32(p + 1, out.total);
  if (p == nullptr || *p != '\0') return false;
  return out.first <= out.last && out.last < out.total;
}

}  // namespace ota_gate
