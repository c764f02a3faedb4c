// Stand-in for arduino-esp32 3.0.1's cores/esp32/esp_arduino_version.h. See ../README.md.
#pragma once

#define ESP_ARDUINO_VERSION_MAJOR 3
#define ESP_ARDUINO_VERSION_MINOR 0
#define ESP_ARDUINO_VERSION_PATCH 1
