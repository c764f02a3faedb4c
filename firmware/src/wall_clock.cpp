#include "ota_gate/wall_clock.h"

#include <ctime>

#include "ota_gate/iso8601.h"

namespace ota_gate {

bool WallClock::now_unix(int64_t& seconds) {
  const int64_t now = static_cast<int64_t>(time(nullptr));
  if (!is_plausible_wall_clock(now)) return false;
  seconds = now;
  return true;
}

}  // namespace ota_gate
