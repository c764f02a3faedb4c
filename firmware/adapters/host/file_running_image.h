// The running image on the host: a file standing in for the running app
// partition, with the SHA-256 the device keeps of it in `<image>.sha256`
// (the device's file store). remember_next() writes the new image's
// digest to `<slot dir>/slot.bin.sha256`; "rebooting" a simulated device
// moves slot.bin and slot.bin.sha256 over the image and its digest.
#pragma once

#include <cstdint>
#include <string>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace host {

class FileRunningImage : public RunningImage {
 public:
  FileRunningImage(std::string image_path, const std::string& slot_dir)
      : image_path_(std::move(image_path)), digest_path_(image_path_ + ".sha256"),
        next_digest_path_(slot_dir + "/slot.bin.sha256") {}
  ~FileRunningImage() override;
  FileRunningImage(const FileRunningImage&) = delete;
  FileRunningImage& operator=(const FileRunningImage&) = delete;

  uint32_t size() override;
  bool read(uint32_t offset, uint8_t* out, size_t len) override;
  bool sha256(char out[65]) override;
  bool remember_next(const char* sha256_hex) override;

 private:
  bool open_image();

  std::string image_path_;
  std::string digest_path_;
  std::string next_digest_path_;
  int fd_ = -1;
};

}  // namespace host
}  // namespace ota_gate
