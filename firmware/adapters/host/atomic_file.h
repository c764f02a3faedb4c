// Small records a host "device" keeps on disk, written aside, flushed and
// renamed into place, so a crash never leaves half a record.
#pragma once

#include <string>

namespace ota_gate {
namespace host {

bool write_file_atomically(const std::string& path, const std::string& text);

}  // namespace host
}  // namespace ota_gate
