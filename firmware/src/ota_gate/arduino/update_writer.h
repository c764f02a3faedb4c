// FlashWriter on Arduino-ESP32's Update (Updater.cpp). Update holds back
// the image's first bytes until Update.end(), so an interrupted or aborted
// write never leaves a bootable slot.
#pragma once

#include <Update.h>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace arduino {

class ArduinoUpdateWriter : public FlashWriter {
 public:
  bool begin(uint32_t image_size) override;
  bool write(const uint8_t* data, size_t len) override;
  // All bytes are in; Update checks the image and switches the boot
  // partition together in end(), which set_bootable() calls.
  bool finish() override;
  void abort() override;
  bool set_bootable() override;
};

}  // namespace arduino
}  // namespace ota_gate
