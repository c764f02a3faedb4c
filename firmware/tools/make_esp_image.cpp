// Writes a valid ESP32 application image of an exact size, for tests: a
// 24-byte header (chip ESP32, hash appended), a DROM segment opening with
// an esp_app_desc_t, a filler segment of pseudo-random bytes, the XOR
// checksum and the appended SHA-256, laid out as esptool does.
//
//   make_esp_image --size BYTES --version LABEL --out FILE [--seed N] [--chip-id N]
//
// BYTES must be a multiple of 16 and at least 400.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ota_gate/sha256.h"

namespace {

void put_u16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = v & 0xff;
  b[at + 1] = (v >> 8) & 0xff;
}

void put_u32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = (v >> (8 * i)) & 0xff;
}

int usage(const char* why) {
  fprintf(stderr, "make_esp_image: %s\n", why);
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long size = 0, seed = 1, chip_id = 0;
  std::string version, out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--size") size = strtoul(argv[i + 1], nullptr, 10);
    else if (arg == "--version") version = argv[i + 1];
    else if (arg == "--out") out = argv[i + 1];
    else if (arg == "--seed") seed = strtoul(argv[i + 1], nullptr, 10);
    else if (arg == "--chip-id") chip_id = strtoul(argv[i + 1], nullptr, 10);
    else return usage("unknown option");
  }
  if (size < 400 || size % 16 != 0) return usage("--size must be a multiple of 16, at least 400");
  if (version.empty() || version.size() > 31) return usage("--version must be 1..31 characters");
  if (out.empty()) return usage("--out FILE is required");

  constexpr size_t kHeader = 24, kSegHeader = 8, kAppDesc = 256, kHash = 32;
  // Layout: header, segment 1 (app desc), segment 2 (filler), 15 bytes of
  // padding, checksum, SHA-256. Segment 2's length makes the total exact.
  const size_t filler = size - kHash - 16 - (kHeader + kSegHeader + kAppDesc + kSegHeader);
  std::vector<uint8_t> img(size - kHash, 0);

  img[0] = 0xE9;
  img[1] = 2;        // segments
  img[2] = 2;        // SPI mode DIO
  img[3] = 0x10;     // 2 MB, 40 MHz
  put_u32(img, 4, 0x40081000);  // entry point
  img[8] = 0xEE;     // WP pin disabled
  put_u16(img, 12, static_cast<uint32_t>(chip_id));
  put_u16(img, 17, 399);  // max chip revision v3.99
  img[23] = 1;       // SHA-256 appended

  size_t at = kHeader;
  put_u32(img, at, 0x3F400020);  // DROM
  put_u32(img, at + 4, kAppDesc);
  at += kSegHeader;
  put_u32(img, at, 0xABCD5432);  // esp_app_desc_t magic
  memcpy(&img[at + 0x10], version.data(), version.size());
  memcpy(&img[at + 0x30], "ota-gate-test", 13);
  memcpy(&img[at + 0x50], "00:00:00", 8);
  memcpy(&img[at + 0x60], "Jan  1 2026", 11);
  memcpy(&img[at + 0x70], "v5.2", 4);
  at += kAppDesc;
  put_u32(img, at, 0x3FFB0000);  // DRAM
  put_u32(img, at + 4, static_cast<uint32_t>(filler));
  at += kSegHeader;
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (size_t i = 0; i < filler; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    img[at + i] = static_cast<uint8_t>(x);
  }

  uint8_t checksum = 0xEF;
  for (size_t i = 0; i < kAppDesc; ++i) checksum ^= img[kHeader + kSegHeader + i];
  for (size_t i = 0; i < filler; ++i) checksum ^= img[at + i];
  img.back() = checksum;

  ota_gate::Sha256 sha;
  uint8_t digest[kHash];
  if (!sha.start() || !sha.update(img.data(), img.size()) || !sha.finish(digest)) return usage("sha256 failed");
  img.insert(img.end(), digest, digest + kHash);

  FILE* f = fopen(out.c_str(), "wb");
  if (f == nullptr || fwrite(img.data(), 1, img.size(), f) != img.size() || fclose(f) != 0) {
    return usage("cannot write the output file");
  }
  return 0;
}
