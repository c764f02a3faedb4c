// The host's clock, optionally shifted (to test expiry) or absent (a device
// that has no time yet).
#pragma once

#include <cstdint>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace host {

class SystemClock : public Clock {
 public:
  explicit SystemClock(bool has_time = true, int64_t offset_seconds = 0)
      : has_time_(has_time), offset_seconds_(offset_seconds) {}
  bool now_unix(int64_t& seconds) override;
  void sleep_ms(uint32_t ms) override;

 private:
  bool has_time_;
  int64_t offset_seconds_;
};

}  // namespace host
}  // namespace ota_gate
