// Forms of the contract's identifiers, checked the same way on both ends.
#pragma once

#include <cstddef>

namespace ota_gate {

bool is_board_name(const char* s);     // also channels: ^[a-z0-9][a-z0-9_-]{0,31}$
bool is_version_label(const char* s);  // ^[A-Za-z0-9][A-Za-z0-9._+-]{0,30}$
bool is_lower_hex(const char* s, size_t len);  // exactly len lowercase hex digits
bool is_tag(const char* s);            // 1..64 printable ASCII, no spaces
// Accepts AABBCCDDEEFF, aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff; writes 12
// lowercase hex digits and a NUL into out.
bool normalize_mac(const char* in, char out[13]);

}  // namespace ota_gate
