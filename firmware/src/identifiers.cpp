#include "ota_gate/identifiers.h"

#include <cstring>

namespace ota_gate {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool is_board_name(const char* s) {
  if (s == nullptr || !is_lower_alnum(s[0])) return false;
  size_t n = 1;
  for (; s[n] != '\0'; ++n) {
    if (n >= 32) return false;
    if (!is_lower_alnum(s[n]) && s[n] != '_' && s[n] != '-') return false;
  }
  return true;
}

bool is_version_label(const char* s) {
  if (s == nullptr || !is_alnum(s[0])) return false;
  size_t n = 1;
  for (; s[n] != '\0'; ++n) {
    if (n >= 31) return false;
    const char c = s[n];
    if (!is_alnum(c) && c != '.' && c != '_' && c != '+' && c != '-') return false;
  }
  return true;
}

bool is_lower_hex(const char* s, size_t len) {
  if (s == nullptr || strlen(s) != len) return false;
  for (size_t i = 0; i < len; ++i) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

bool is_tag(const char* s) {
  if (s == nullptr || s[0] == '\0') return false;
  size_t n = 0;
  for (; s[n] != '\0'; ++n) {
    if (n >= 64 || s[n] <= ' ' || s[n] > '~') return false;
  }
  return true;
}

bool normalize_mac(const char* in, char out[13]) {
  if (in == nullptr) return false;
  const size_t len = strlen(in);
  size_t o = 0;
  if (len == 12) {
    for (size_t i = 0; i < 12; ++i) {
      if (!is_hex_digit(in[i])) return false;
      out[o++] = lower(in[i]);
    }
  } else if (len == 17) {
    const char sep = in[2];
    if (sep != ':' && sep != '-') return false;
    for (size_t i = 0; i < 17; ++i) {
      if (i % 3 == 2) {
        if (in[i] != sep) return false;
      } else {
        if (!is_hex_digit(in[i])) return false;
        out[o++] = lower(in[i]);
      }
    }
  } else {
    return false;
  }
  out[12] = '\0';
  return true;
}

}  // namespace ota_gate
