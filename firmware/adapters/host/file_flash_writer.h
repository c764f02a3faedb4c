// An OTA slot backed by files, standing in for a flash partition on the
// host: `<dir>/slot.bin` receives the image; `<dir>/otadata` appears only
// when the image is marked bootable (like the otadata partition pointing
// at the new slot).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace host {

class FileFlashWriter : public FlashWriter {
 public:
  FileFlashWriter(std::string dir, uint32_t capacity)
      : slot_path_(dir + "/slot.bin"), otadata_path_(dir + "/otadata"), capacity_(capacity) {}
  ~FileFlashWriter() override;

  bool begin(uint32_t image_size) override;
  bool write(const uint8_t* data, size_t len) override;
  bool finish() override;
  void abort() override;
  bool set_bootable() override;

 private:
  std::string slot_path_;
  std::string otadata_path_;
  uint32_t capacity_;
  FILE* file_ = nullptr;
  uint32_t expected_ = 0;
  uint32_t written_ = 0;
  bool finished_ = false;
};

}  // namespace host
}  // namespace ota_gate
