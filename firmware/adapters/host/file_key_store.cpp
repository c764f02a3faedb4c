#include "file_key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

namespace ota_gate {
namespace host {

bool FileKeyStore::load(uint8_t* buf, size_t capacity, size_t& len) {
  FILE* f = fopen(path_.c_str(), "rb");
  if (f == nullptr) return false;
  len = fread(buf, 1, capacity, f);
  // A file larger than the buffer is not a key this client wrote.
  const bool whole = fgetc(f) == EOF && !ferror(f);
  fclose(f);
  return whole && len > 0;
}

bool FileKeyStore::save(const uint8_t* data, size_t len) {
  const std::string temp = path_ + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < len) {
    const ssize_t n = write(fd, data + done, len - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const bool ok = done == len && fsync(fd) == 0;
  close(fd);
  return ok && rename(temp.c_str(), path_.c_str()) == 0;
}

}  // namespace host
}  // namespace ota_gate
