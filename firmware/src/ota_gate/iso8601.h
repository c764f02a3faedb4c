// ISO 8601 UTC timestamps as the server writes them.
#pragma once

#include <cstdint>

namespace ota_gate {

// Accepts YYYY-MM-DDTHH:MM:SS[.fraction]Z; the fraction is ignored.
bool parse_iso8601_utc(const char* s, int64_t& unix_seconds);

// A device clock starts near 1970 until SNTP sets it: a reading before
// 2024 is not a real time, and expiry is then not checked rather than misjudged.
inline bool is_plausible_wall_clock(int64_t unix_seconds) { return unix_seconds >= 1704067200; }

}  // namespace ota_gate
