// A Clock that reads time(), which SNTP sets on ESP-IDF and Arduino-ESP32.
// Platforms derive from it and add only how to wait.
#pragma once

#include "ota_gate/interfaces.h"

namespace ota_gate {

class WallClock : public Clock {
 public:
  // False until the time is plausible (see is_plausible_wall_clock).
  bool now_unix(int64_t& seconds) override;
};

}  // namespace ota_gate
