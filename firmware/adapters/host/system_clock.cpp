#include "system_clock.h"

#include <ctime>

namespace ota_gate {
namespace host {

bool SystemClock::now_unix(int64_t& seconds) {
  if (!has_time_) return false;
  seconds = static_cast<int64_t>(time(nullptr)) + offset_seconds_;
  return true;
}

void SystemClock::sleep_ms(uint32_t ms) {
  timespec ts{};
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = static_cast<long>(ms % 1000) * 1000000L;
  nanosleep(&ts, nullptr);
}

}  // namespace host
}  // namespace ota_gate
