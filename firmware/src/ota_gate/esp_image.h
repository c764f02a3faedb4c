// The few facts of the ESP32 application image format the client reads.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ota_gate {

constexpr uint8_t kEspImageMagic = 0xE9;        // the first byte of every image
constexpr uint32_t kEspImageHeaderSize = 24;
constexpr uint32_t kEspHashAppendedOffset = 23;  // 1 when a SHA-256 of the image follows it
constexpr size_t kEspAppendedHashSize = 32;

}  // namespace ota_gate
