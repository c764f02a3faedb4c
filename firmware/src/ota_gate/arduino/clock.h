// Clock on Arduino-ESP32: the time configTime()/SNTP sets, delay().
#pragma once

#include "ota_gate/wall_clock.h"

namespace ota_gate {
namespace arduino {

class ArduinoClock : public WallClock {
 public:
  void sleep_ms(uint32_t ms) override;
};

}  // namespace arduino
}  // namespace ota_gate
