#include "ota_gate/arduino/clock.h"

#include <Arduino.h>

namespace ota_gate {
namespace arduino {

void ArduinoClock::sleep_ms(uint32_t ms) { delay(ms); }

}  // namespace arduino
}  // namespace ota_gate
