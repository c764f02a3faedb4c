// Measures the C++ delta applier on the host: applies PATCH to BASE
// REPEAT times, the patch fed in OTA_GATE_IO_BUFFER-sized pieces as the
// client does, the base read through the host adapter (pread on the file),
// the output hashed with SHA-256 as the client hashes what it writes.
//
//   delta_apply_bench BASE PATCH [--repeat N]
//
// PATCH is an esp_delta_ota file (64-byte header) or a bare detools patch.
// Prints one JSON line: {"bytes_out","patch_bytes","repeat","seconds",
// "mb_per_s" (10^6 bytes of output per second),"state_bytes","sha256"};
// exits 0 when every run applied, 1 when the patch was refused, 64 on bad usage.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "file_running_image.h"
#include "ota_gate/client.h"

namespace {

using namespace ota_gate;

class HashingSink : public ByteSink {
 public:
  bool write(const uint8_t* data, size_t len) override {
    bytes += len;
    return sha.update(data, len);
  }
  Sha256 sha;
  uint64_t bytes = 0;
};

int usage(const char* why) {
  fprintf(stderr, "delta_apply_bench: %s\nusage: delta_apply_bench BASE PATCH [--repeat N]\n", why);
  return 64;
}

bool has_esp_header(const std::vector<uint8_t>& p) {
  return p.size() >= kDeltaHeaderSize && p[0] == (kDeltaMagic & 0xff) && p[1] == ((kDeltaMagic >> 8) & 0xff) &&
         p[2] == ((kDeltaMagic >> 16) & 0xff) && p[3] == (kDeltaMagic >> 24);
}

// One application; ok and the output's digest, or the refusal.
Result apply_once(host::FileRunningImage& base, const std::vector<uint8_t>& patch, bool esp, HashingSink& sink,
                  char digest_hex[65]) {
  static EspDeltaPatch esp_patch;
  static DetoolsApplier bare;
  static uint8_t io[OTA_GATE_IO_BUFFER];
  const uint32_t base_size = base.size();
  if (!sink.sha.start()) return Result::crypto_error;
  if (esp) {
    uint8_t whole[32], named[32];
    const Result r = digest_base(base, base_size, io, sizeof io, whole, named);
    if (r != Result::ok) return r;
    esp_patch.begin(named, base, base_size, sink);
  } else {
    bare.begin(base, base_size, sink);
  }
  for (size_t at = 0; at < patch.size(); at += sizeof io) {
    const size_t n = patch.size() - at < sizeof io ? patch.size() - at : sizeof io;
    memcpy(io, patch.data() + at, n);  // as if received from the network
    const Result r = esp ? esp_patch.feed(io, n) : bare.feed(io, n);
    if (r != Result::ok) return r;
  }
  const Result r = esp ? esp_patch.finish() : bare.finish();
  if (r != Result::ok) return r;
  return sink.sha.finish_hex(digest_hex) ? Result::ok : Result::crypto_error;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage("BASE and PATCH are required");
  unsigned long repeat = 1;
  for (int i = 3; i < argc; i += 2) {
    if (strcmp(argv[i], "--repeat") != 0 || i + 1 >= argc) return usage("unknown option");
    char* end = nullptr;
    repeat = strtoul(argv[i + 1], &end, 10);
    if (end == argv[i + 1] || *end != '\0' || repeat < 1 || repeat > 100000) return usage("--repeat wants 1..100000");
  }
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) return usage("cannot read PATCH");
  const std::vector<uint8_t> patch((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  host::FileRunningImage base(argv[1], "/nonexistent");
  if (base.size() == 0) return usage("cannot read BASE (or it is empty)");
  const bool esp = has_esp_header(patch);

  char digest[65] = {};
  uint64_t bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  for (unsigned long i = 0; i < repeat; ++i) {
    HashingSink sink;
    const Result r = apply_once(base, patch, esp, sink, digest);
    if (r != Result::ok) {
      fprintf(stderr, "delta_apply_bench: the patch was refused: %s\n", result_name(r));
      return 1;
    }
    bytes += sink.bytes;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  printf("{\"bytes_out\":%llu,\"patch_bytes\":%zu,\"repeat\":%lu,\"seconds\":%.6f,\"mb_per_s\":%.2f,"
         "\"state_bytes\":%zu,\"sha256\":\"%s\"}\n",
         static_cast<unsigned long long>(bytes / repeat), patch.size(), repeat, seconds,
         seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0.0, esp ? sizeof(EspDeltaPatch) : sizeof(DetoolsApplier),
         digest);
  return 0;
}
