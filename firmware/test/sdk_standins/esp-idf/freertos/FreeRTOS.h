// Signature stand-in for ESP-IDF's FreeRTOS.h (the tick type and pdMS_TO_TICKS). See ../README.md.
#pragma once

#include <stdint.h>

typedef uint32_t TickType_t;
#define configTICK_RATE_HZ 1000
#define pdMS_TO_TICKS(xTimeInMs) ((TickType_t)(((TickType_t)(xTimeInMs) * (TickType_t)configTICK_RATE_HZ) / (TickType_t)1000U))
