// The device key on the host: one file, written aside, synced and renamed
// into place, readable by its owner only.
#pragma once

#include <string>

#include "ota_gate/interfaces.h"

namespace ota_gate {
namespace host {

class FileKeyStore : public KeyStore {
 public:
  explicit FileKeyStore(std::string path) : path_(std::move(path)) {}
  bool load(uint8_t* buf, size_t capacity, size_t& len) override;
  bool save(const uint8_t* data, size_t len) override;

 private:
  std::string path_;
};

}  // namespace host
}  // namespace ota_gate
