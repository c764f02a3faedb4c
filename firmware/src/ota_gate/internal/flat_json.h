// The pull parser for one flat JSON object that the manifest and the
// credential answers are read with. Internal to the core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ota_gate {
namespace detail {

// A small pull parser for one flat JSON object. Values of known fields go
// into fixed buffers; anything else is skipped (with a depth limit), so the
// server may add fields without breaking devices in the field.
class Parser {
 public:
  Parser(const char* p, size_t len) : p_(p), end_(p + len) {}

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool at_end() {
    ws();
    return p_ == end_;
  }
  char peek() {
    ws();
    return p_ < end_ ? *p_ : '\0';
  }

  // A string into out (NUL-terminated); false when malformed or too long.
  // Only ASCII escapes are accepted: every field of the contract is ASCII.
  bool string(char* out, size_t capacity) {
    if (!eat('"')) return false;
    size_t n = 0;
    while (p_ < end_ && *p_ != '"') {
      char c = *p_++;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (p_ >= end_) return false;
        const char e = *p_++;
        switch (e) {
          case '"': case '\\': case '/': c = e; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'n': c = '\n'; break;
          case 'r': c = '\r'; break;
          case 't': c = '\t'; break;
          case 'u': {
            if (end_ - p_ < 4) return false;
            unsigned v = 0;
            for (int i = 0; i < 4; ++i) {
              const char h = *p_++;
              v <<= 4;
              if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
              else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
              else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
              else return false;
            }
            if (v == 0 || v > 0x7f) return false;
            c = static_cast<char>(v);
            break;
          }
          default: return false;
        }
      }
      if (out != nullptr) {
        if (n + 1 >= capacity) return false;
        out[n] = c;
      }
      ++n;
    }
    if (p_ >= end_) return false;
    ++p_;
    if (out != nullptr) out[n] = '\0';
    return true;
  }

  // A non-negative integer that fits 32 bits; no sign, fraction or exponent.
  bool u32(uint32_t& out) {
    ws();
    uint64_t v = 0;
    const char* start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      v = v * 10 + static_cast<uint64_t>(*p_ - '0');
      if (v > 0xffffffffull) return false;
      ++p_;
    }
    if (p_ == start || (p_ - start > 1 && *start == '0')) return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    out = static_cast<uint32_t>(v);
    return true;
  }

  bool literal(const char* word) {
    ws();
    const size_t n = strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool boolean(bool& out) {
    if (literal("true")) {
      out = true;
      return true;
    }
    if (literal("false")) {
      out = false;
      return true;
    }
    return false;
  }

  bool skip_value(int depth) {
    if (depth > 8) return false;
    const char c = peek();
    if (c == '"') return string(nullptr, 0);
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++p_;
      if (eat(close)) return true;
      do {
        if (c == '{') {
          if (!string(nullptr, 0) || !eat(':')) return false;
        }
        if (!skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat(close);
    }
    if (literal("true") || literal("false") || literal("null")) return true;
    // A number: sign, digits, fraction, exponent.
    const char* start = p_;
    while (p_ < end_ && (strchr("+-.eE", *p_) != nullptr || (*p_ >= '0' && *p_ <= '9'))) ++p_;
    return p_ != start;
  }

 private:
  const char* p_;
  const char* end_;
};

// The string field `name` of a flat JSON object into out; false when the body
// is not such an object, the field is missing, not a string, or too long.
inline bool json_string_field(const char* body, size_t len, const char* name, char* out, size_t capacity) {
  Parser p(body, len);
  char key[32];
  bool found = false;
  if (!p.eat('{')) return false;
  if (p.eat('}')) return false;
  do {
    if (!p.string(key, sizeof key) || !p.eat(':')) return false;
    if (!found && strcmp(key, name) == 0) {
      if (!p.string(out, capacity)) return false;
      found = true;
    } else if (!p.skip_value(0)) {
      return false;
    }
  } while (p.eat(','));
  return found && p.eat('}') && p.at_end();
}

}  // namespace detail
}  // namespace ota_gate
