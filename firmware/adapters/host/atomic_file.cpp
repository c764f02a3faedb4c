#include "atomic_file.h"

#include <unistd.h>

#include <cstdio>

namespace ota_gate {
namespace host {

bool write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  FILE* f = fopen(temp.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = fwrite(text.data(), 1, text.size(), f) == text.size() && fflush(f) == 0 && fsync(fileno(f)) == 0;
  fclose(f);
  return ok && rename(temp.c_str(), path.c_str()) == 0;
}

}  // namespace host
}  // namespace ota_gate
