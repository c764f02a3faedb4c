#include "ota_gate/decision.h"

#include <cstring>

namespace ota_gate {

Decision decide_update(const char* own_version, uint32_t own_sequence, const char* target_version,
                       uint32_t target_sequence, bool allow_downgrade) {
  if (own_sequence == 0) return Decision::hand_built;
  if (strcmp(own_version, target_version) == 0) return Decision::same_version;
  if (target_sequence > own_sequence || allow_downgrade) return Decision::update;
  return Decision::not_newer;
}

const char* decision_name(Decision d) {
  switch (d) {
    case Decision::update: return "update";
    case Decision::same_version: return "same_version";
    case Decision::not_newer: return "not_newer";
    case Decision::hand_built: return "hand_built";
  }
  return "unknown";
}

}  // namespace ota_gate
