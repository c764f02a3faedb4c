#include "ota_gate/arduino/update_writer.h"

namespace ota_gate {
namespace arduino {

bool ArduinoUpdateWriter::begin(uint32_t image_size) { return Update.begin(image_size, U_FLASH); }

bool ArduinoUpdateWriter::write(const uint8_t* data, size_t len) {
  return Update.write(const_cast<uint8_t*>(data), len) == len;
}

bool ArduinoUpdateWriter::finish() { return Update.isFinished() && !Update.hasError(); }

void ArduinoUpdateWriter::abort() { Update.abort(); }

bool ArduinoUpdateWriter::set_bootable() { return Update.end(false); }

}  // namespace arduino
}  // namespace ota_gate
