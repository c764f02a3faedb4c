#include "ota_gate/release_statement.h"

#include <cinttypes>
#include <cstdio>

namespace ota_gate {

size_t build_release_statement(const Manifest& m, char* out, size_t capacity) {
  const int n = snprintf(out, capacity,
                         "ota-gate release v1\n"
                         "board: %s\n"
                         "version: %s\n"
                         "sequence: %" PRIu32 "\n"
                         "size: %" PRIu32 "\n"
                         "sha256: %s\n"
                         "tag: %s\n"
                         "commit: %s\n",
                         m.board, m.version, m.sequence, m.size, m.sha256, m.tag, m.commit);
  if (n <= 0 || static_cast<size_t>(n) >= capacity) return 0;
  return static_cast<size_t>(n);
}

}  // namespace ota_gate
