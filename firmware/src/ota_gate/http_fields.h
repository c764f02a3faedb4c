// Strict parsing of the header values the client relies on.
#pragma once

#include <cstdint>

#include "ota_gate/interfaces.h"
#include "ota_gate/result.h"

namespace ota_gate {

// Content-Length: plain decimal digits only (no sign, no spaces, no
// leading '+'), at most `max`. Returns ok, no_content_length,
// bad_content_length or body_too_large.
Result parse_content_length(const HttpResponseHead& head, uint32_t max, uint32_t& out);

struct ContentRange {
  uint32_t first;
  uint32_t last;
  uint32_t total;
};

// `bytes first-last/total` with first <= last < total.
bool parse_content_range(const char* value, ContentRange& out);

}  // namespace ota_gate
