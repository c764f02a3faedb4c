// FlashWriter on ESP-IDF's app_update component: esp_ota_begin / write /
// end / set_boot_partition on the next OTA slot.
#pragma once

#include "esp_ota_ops.h"
#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace esp_idf {

class EspIdfOtaWriter : public FlashWriter {
 public:
  bool begin(uint32_t image_size) override;
  bool write(const uint8_t* data, size_t len) override;
  // esp_ota_end checks the image: magic, segments, checksum, appended
  // SHA-256, and the Secure Boot signature when Secure Boot is on.
  bool finish() override;
  void abort() override;
  bool set_bootable() override;

 private:
  const esp_partition_t* partition_ = nullptr;
  esp_ota_handle_t handle_ = 0;
};

// True on the first boot of a new image while rollback is armed
// (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): the moment to run a self-test.
bool running_image_pending_verify();
// Keeps the running image (cancels the rollback); then report `booted`.
bool confirm_running_image();
// Gives up on the running image and reboots into the previous one.
void reject_running_image();

}  // namespace esp_idf
}  // namespace ota_gate
