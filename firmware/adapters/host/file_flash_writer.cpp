#include "file_flash_writer.h"

#include "atomic_file.h"

#include <unistd.h>

namespace ota_gate {
namespace host {

FileFlashWriter::~FileFlashWriter() {
  if (file_ != nullptr) fclose(file_);
}

bool FileFlashWriter::begin(uint32_t image_size) {
  if (file_ != nullptr || image_size == 0 || image_size > capacity_) return false;
  file_ = fopen(slot_path_.c_str(), "wb");
  if (file_ == nullptr) return false;
  expected_ = image_size;
  written_ = 0;
  finished_ = false;
  return true;
}

bool FileFlashWriter::write(const uint8_t* data, size_t len) {
  if (file_ == nullptr || len > expected_ - written_) return false;
  if (fwrite(data, 1, len, file_) != len) return false;
  written_ += static_cast<uint32_t>(len);
  return true;
}

bool FileFlashWriter::finish() {
  if (file_ == nullptr) return false;
  const bool flushed = fflush(file_) == 0 && fsync(fileno(file_)) == 0;
  fclose(file_);
  file_ = nullptr;
  finished_ = flushed && written_ == expected_;
  return finished_;
}

void FileFlashWriter::abort() {
  if (file_ != nullptr) fclose(file_);
  file_ = nullptr;
  finished_ = false;
  // Erase, as a device would leave the slot unusable.
  remove(slot_path_.c_str());
}

bool FileFlashWriter::set_bootable() {
  if (!finished_) return false;
  return write_file_atomically(otadata_path_, "slot.bin " + std::to_string(expected_) + "\n");
}

}  // namespace host
}  // namespace ota_gate
