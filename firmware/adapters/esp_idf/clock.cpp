#include "ota_gate/esp_idf/clock.h"

#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

namespace ota_gate {
namespace esp_idf {

void EspIdfClock::sleep_ms(uint32_t ms) { vTaskDelay(pdMS_TO_TICKS(ms)); }

}  // namespace esp_idf
}  // namespace ota_gate
