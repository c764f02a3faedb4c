// ISO 8601 UTC timestamps as the server writes them.
#pragma once

#include <cstdint>

namespace ota_gate {

// Accepts YYYY-MM-DDTHH:MM:SS[.fraction]Z; the fraction is ignored.
bool parse_iso8601_utc(const char* s, int64_t& unix_seconds);

}  // namespace ota_gate
