// Signature stand-in for ESP-IDF's freertos/task.h. See ../README.md.
#pragma once

#include "FreeRTOS.h"

#ifdef __cplusplus
extern "C" {
#endif

void vTaskDelay(const TickType_t xTicksToDelay);

#ifdef __cplusplus
}
#endif
