// The release statement that a release key signs, rebuilt byte for byte
// from the manifest's fields.
#pragma once

#include <cstddef>

#include "ota_gate/manifest.h"

namespace ota_gate {

constexpr size_t kMaxStatement = 384;

// Writes the statement (no NUL counted) into out; returns its length, or 0
// when it does not fit.
size_t build_release_statement(const Manifest& m, char* out, size_t capacity);

}  // namespace ota_gate
