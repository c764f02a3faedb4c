// The contract's update rule.
#pragma once

#include <cstdint>

namespace ota_gate {

enum class Decision : uint8_t {
  update,
  same_version,   // already runs this version
  not_newer,      // manifest sequence is not greater and no allow_downgrade
  hand_built,     // own sequence 0: a binary not made by the release process
};

// Flash only when the version differs AND (sequence is greater OR
// allow_downgrade), and never when the device's own sequence is 0.
Decision decide_update(const char* own_version, uint32_t own_sequence,
                       const char* target_version, uint32_t target_sequence,
                       bool allow_downgrade);

const char* decision_name(Decision d);

}  // namespace ota_gate
