// Clock on ESP-IDF: the SNTP-set system time, FreeRTOS delays.
#pragma once

#include "ota_gate/wall_clock.h"

namespace ota_gate {
namespace esp_idf {

class EspIdfClock : public WallClock {
 public:
  void sleep_ms(uint32_t ms) override;
};

}  // namespace esp_idf
}  // namespace ota_gate
