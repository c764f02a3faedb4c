#include "file_running_image.h"

#include "atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "ota_gate/identifiers.h"

namespace ota_gate {
namespace host {

FileRunningImage::~FileRunningImage() {
  if (fd_ >= 0) close(fd_);
}

bool FileRunningImage::open_image() {
  if (fd_ < 0) fd_ = open(image_path_.c_str(), O_RDONLY);
  return fd_ >= 0;
}

uint32_t FileRunningImage::size() {
  struct stat st;
  if (!open_image() || fstat(fd_, &st) != 0 || st.st_size < 0 || st.st_size > 0xffffffffLL) return 0;
  return static_cast<uint32_t>(st.st_size);
}

bool FileRunningImage::read(uint32_t offset, uint8_t* out, size_t len) {
  if (!open_image()) return false;
  size_t got = 0;
  while (got < len) {
    const ssize_t n = pread(fd_, out + got, len - got, static_cast<off_t>(offset) + static_cast<off_t>(got));
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

bool FileRunningImage::sha256(char out[65]) {
  FILE* f = fopen(digest_path_.c_str(), "r");
  if (f == nullptr) return false;
  char line[80] = {};
  const bool read_ok = fgets(line, sizeof line, f) != nullptr;
  fclose(f);
  if (!read_ok) return false;
  line[strcspn(line, "\r\n")] = '\0';
  if (!is_lower_hex(line, 64)) return false;
  memcpy(out, line, 65);
  return true;
}

bool FileRunningImage::remember_next(const char* sha256_hex) {
  if (!is_lower_hex(sha256_hex, 64)) return false;
  return write_file_atomically(next_digest_path_, std::string(sha256_hex) + "\n");
}

}  // namespace host
}  // namespace ota_gate
