// Signature stand-in for arduino-esp32's Update.h (UpdateClass, 2.x and 3.x). See ../README.md.
#pragma once

#include "Arduino.h"
#include "esp_partition.h"

#define UPDATE_SIZE_UNKNOWN 0xFFFFFFFF
#define U_FLASH 0

class UpdateClass {
 public:
  bool begin(size_t size = UPDATE_SIZE_UNKNOWN, int command = U_FLASH, int ledPin = -1, uint8_t ledOn = LOW,
             const char* label = NULL);
  size_t write(uint8_t* data, size_t len);
  bool end(bool evenIfRemaining = false);
  void abort();
  bool hasError();
  bool isFinished();
};
extern UpdateClass Update;
