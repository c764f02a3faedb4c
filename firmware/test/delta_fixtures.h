// Test helpers for delta patches: Espressif's vectors from ../shared, an
// in-memory base and sink, and a small patch writer that builds detools
// sequential patches (heatshrink window 8 / lookahead 7, or none) by hand,
// so applier tests run where the server's generator is not built.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ota_gate/esp_delta_patch.h"
#include "ota_gate/interfaces.h"
#include "ota_gate/sha256.h"

namespace delta_fixtures {

using Bytes = std::vector<uint8_t>;

// ../shared relative to the repository; the tests run in firmware/.
inline std::string fixture_dir() {
  const char* env = getenv("OTA_GATE_DELTA_FIXTURES");
  return env != nullptr ? env : "../../shared/fixtures/esp-delta";
}

inline bool read_file(const std::string& path, Bytes& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

inline bool load_fixture(const char* name, Bytes& out) { return read_file(fixture_dir() + "/" + name, out); }

inline Bytes random_bytes(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<uint8_t>(x);
  }
  return b;
}

inline void sha256(const Bytes& data, uint8_t out[32]) {
  ota_gate::Sha256 sha;
  sha.start();
  sha.update(data.data(), data.size());
  sha.finish(out);
}

inline Bytes esp_header(const uint8_t digest[32]) {
  Bytes h(ota_gate::kDeltaHeaderSize, 0);
  h[0] = 0x10;
  h[1] = 0xde;
  h[2] = 0xcd;
  h[3] = 0xfc;
  memcpy(h.data() + 4, digest, 32);
  return h;
}

// A small image with the ESP header fields the digest rule reads: magic,
// hash_appended, and the SHA-256 of the rest appended.
inline Bytes esp_like_image(size_t size, uint32_t seed) {
  Bytes img = random_bytes(size - 32, seed);
  img[0] = 0xE9;
  img[23] = 1;
  uint8_t digest[32];
  sha256(img, digest);
  img.insert(img.end(), digest, digest + 32);
  return img;
}

class MemoryImage : public ota_gate::ImageReader {
 public:
  explicit MemoryImage(const Bytes& bytes) : bytes_(bytes) {}
  bool read(uint32_t offset, uint8_t* out, size_t len) override {
    if (offset > bytes_.size() || len > bytes_.size() - offset) return false;
    memcpy(out, bytes_.data() + offset, len);
    return true;
  }

 private:
  const Bytes& bytes_;
};

class VectorSink : public ota_gate::ByteSink {
 public:
  explicit VectorSink(Bytes& out) : out_(out) { out_.clear(); }
  bool write(const uint8_t* data, size_t len) override {
    out_.insert(out_.end(), data, data + len);
    return true;
  }

 private:
  Bytes& out_;
};

// detools' size encoding: 6 bits, sign and "more" in the first byte, then 7 bits a byte.
inline void put_size(Bytes& out, int64_t v) {
  uint64_t m = static_cast<uint64_t>(v < 0 ? -v : v);
  uint8_t first = static_cast<uint8_t>((m & 0x3f) | (v < 0 ? 0x40 : 0));
  m >>= 6;
  out.push_back(static_cast<uint8_t>(first | (m != 0 ? 0x80 : 0)));
  while (m != 0) {
    const uint8_t b = static_cast<uint8_t>(m & 0x7f);
    m >>= 7;
    out.push_back(static_cast<uint8_t>(b | (m != 0 ? 0x80 : 0)));
  }
}

// Greedy LZSS in heatshrink's bit layout, window 8 bits, lookahead 7 bits.
inline Bytes heatshrink_8_7(const Bytes& in) {
  Bytes out;
  uint32_t acc = 0;
  int bits = 0;
  auto put = [&](uint32_t value, int n) {
    for (int i = n - 1; i >= 0; --i) {
      acc = (acc << 1) | ((value >> i) & 1);
      if (++bits == 8) {
        out.push_back(static_cast<uint8_t>(acc));
        acc = 0;
        bits = 0;
      }
    }
  };
  for (size_t i = 0; i < in.size();) {
    size_t best = 0, best_distance = 0;
    for (size_t d = 1; d <= 256 && d <= i; ++d) {
      size_t n = 0;
      while (n < 128 && i + n < in.size() && in[i + n] == in[i + n - d]) ++n;
      if (n > best) {
        best = n;
        best_distance = d;
      }
    }
    if (best >= 2) {
      put(0, 1);
      put(static_cast<uint32_t>(best_distance - 1), 8);
      put(static_cast<uint32_t>(best - 1), 7);
      i += best;
    } else {
      put(1, 1);
      put(in[i], 8);
      ++i;
    }
  }
  if (bits > 0) put(0, 8 - bits);
  return out;
}

// A valid (not minimal) sequential patch: blocks of up to 1000 bytes, each
// a diff against a pseudo-random base position (so adjustments go both
// ways) and a short extra run.
inline Bytes make_patch(const Bytes& base, const Bytes& target, bool heatshrink) {
  Bytes stream;
  put_size(stream, 0);  // no data-format patch
  const bool diffs = base.size() >= 1000;
  auto position = [&](size_t block) { return diffs ? static_cast<int64_t>((block * 7919) % (base.size() - 999)) : 0; };
  int64_t from = 0;
  for (size_t i = 0, block = 0; i < target.size(); ++block) {
    const size_t len = std::min<size_t>(1000, target.size() - i);
    const size_t diff = diffs ? len - len / 10 : 0;
    put_size(stream, static_cast<int64_t>(diff));
    for (size_t k = 0; k < diff; ++k) stream.push_back(static_cast<uint8_t>(target[i + k] - base[from + k]));
    put_size(stream, static_cast<int64_t>(len - diff));
    stream.insert(stream.end(), target.begin() + static_cast<long>(i + diff), target.begin() + static_cast<long>(i + len));
    i += len;
    put_size(stream, position(block + 1) - (from + static_cast<int64_t>(diff)));
    from = position(block + 1);
  }
  Bytes patch{static_cast<uint8_t>(heatshrink ? 0x04 : 0x00)};
  put_size(patch, static_cast<int64_t>(target.size()));
  if (!heatshrink) {
    patch.insert(patch.end(), stream.begin(), stream.end());
    return patch;
  }
  patch.push_back(0x44);
  const Bytes packed = heatshrink_8_7(stream);
  patch.insert(patch.end(), packed.begin(), packed.end());
  return patch;
}

}  // namespace delta_fixtures
