#include "ota_gate/esp_idf/ota_writer.h"

namespace ota_gate {
namespace esp_idf {

bool EspIdfOtaWriter::begin(uint32_t image_size) {
  partition_ = esp_ota_get_next_update_partition(nullptr);
  if (partition_ == nullptr || image_size > partition_->size) return false;
#ifdef OTA_WITH_SEQUENTIAL_WRITES
  // Erase sector by sector while writing, so no single call stalls the watchdog.
  const size_t erase = OTA_WITH_SEQUENTIAL_WRITES;
#else
  const size_t erase = image_size;
#endif
  return esp_ota_begin(partition_, erase, &handle_) == ESP_OK;
}

bool EspIdfOtaWriter::write(const uint8_t* data, size_t len) {
  return handle_ != 0 && esp_ota_write(handle_, data, len) == ESP_OK;
}

bool EspIdfOtaWriter::finish() {
  if (handle_ == 0) return false;
  const esp_err_t err = esp_ota_end(handle_);
  handle_ = 0;  // esp_ota_end frees the handle whatever its verdict
  return err == ESP_OK;
}

void EspIdfOtaWriter::abort() {
  if (handle_ != 0) esp_ota_abort(handle_);
  handle_ = 0;
}

bool EspIdfOtaWriter::set_bootable() {
  return partition_ != nullptr && esp_ota_set_boot_partition(partition_) == ESP_OK;
}

bool running_image_pending_verify() {
  esp_ota_img_states_t state;
  return esp_ota_get_state_partition(esp_ota_get_running_partition(), &state) == ESP_OK &&
         state == ESP_OTA_IMG_PENDING_VERIFY;
}

bool confirm_running_image() { return esp_ota_mark_app_valid_cancel_rollback() == ESP_OK; }

void reject_running_image() { esp_ota_mark_app_invalid_rollback_and_reboot(); }

}  // namespace esp_idf
}  // namespace ota_gate
