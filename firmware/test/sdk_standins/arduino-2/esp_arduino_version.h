// Stand-in for arduino-esp32 2.0.17's cores/esp32/esp_arduino_version.h. See ../README.md.
#pragma once

#define ESP_ARDUINO_VERSION_MAJOR 2
#define ESP_ARDUINO_VERSION_MINOR 0
#define ESP_ARDUINO_VERSION_PATCH 17
