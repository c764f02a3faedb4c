// A device on the host: the OTA client with the POSIX transport, a
// file-backed slot and the system clock. Used by the end-to-end test, and
// handy to poke a server by hand.
//
//   ota_host_client --server URL --board B --device MAC --version V --sequence N
//                   --server-key PEM... --release-key PEM... --slot DIR
//                   [--channel C] [--chunk BYTES] [--retries N] [--retry-delay-ms N]
//                   [--clock-offset SECONDS | --no-clock] [--slot-size BYTES] [--report-booted]
//                   [--running FILE]
//                   [--key-file PATH [--enrollment-token TOKEN]]
//
// With --key-file the device has credentials: its P-256 key lives in that
// file (made on the first run), it enrolls, and it sends a device token.
// Prints `credentials: <result>` then.
//
// --running FILE makes the device delta-capable: FILE is the image it runs
// and FILE.sha256 the digest it kept from the update that installed it (no
// digest: it asks for full images). After an update the new image's digest
// is in DIR/slot.bin.sha256.
//
// Prints `result: <name>`, `decision: <name>`, `delta: none|ok|<reason it was
// abandoned>` and download statistics; exits
// 0 when the run reached a verdict the device accepts (installed, or no
// update needed), 2 on a refusal or failure, 64 on bad usage.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ota_gate/client.h"
#include "file_flash_writer.h"
#include "file_key_store.h"
#include "file_running_image.h"
#include "posix_http_transport.h"
#include "system_clock.h"

namespace {

bool read_text(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

int usage(const char* why) {
  fprintf(stderr, "ota_host_client: %s\n", why);
  return 64;
}

bool to_u32(const char* s, uint32_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > 0xffffffffull) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ota_gate;
  OtaConfig config;
  std::vector<std::string> server_pems, release_pems;
  std::string slot_dir, running_path, key_file;
  uint32_t slot_size = 1966080;
  bool has_clock = true, report_booted = false;
  int64_t clock_offset = 0;
  uint32_t value = 0;

  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--no-clock") { has_clock = false; continue; }
    if (arg == "--report-booted") { report_booted = true; continue; }
    const char* v = next;
    ++i;
    if (v == nullptr) return usage(("missing value after " + arg).c_str());
    if (arg == "--server") config.server_url = v;
    else if (arg == "--board") config.board = v;
    else if (arg == "--channel") config.channel = v;
    else if (arg == "--device") config.device_mac = v;
    else if (arg == "--version") config.version = v;
    else if (arg == "--sequence") { if (!to_u32(v, config.sequence)) return usage("--sequence wants 0..4294967295"); }
    else if (arg == "--chunk") { if (!to_u32(v, config.chunk_size)) return usage("--chunk wants a byte count"); }
    else if (arg == "--retries") { if (!to_u32(v, value) || value > 255) return usage("--retries wants 0..255"); config.max_retries = static_cast<uint8_t>(value); }
    else if (arg == "--retry-delay-ms") { if (!to_u32(v, config.retry_delay_ms)) return usage("--retry-delay-ms wants milliseconds"); }
    else if (arg == "--slot-size") { if (!to_u32(v, slot_size)) return usage("--slot-size wants a byte count"); }
    else if (arg == "--clock-offset") clock_offset = strtoll(v, nullptr, 10);
    else if (arg == "--slot") slot_dir = v;
    else if (arg == "--running") running_path = v;
    else if (arg == "--key-file") key_file = v;
    else if (arg == "--enrollment-token") config.enrollment_token = v;
    else if (arg == "--server-key" || arg == "--release-key") {
      std::string pem;
      if (!read_text(v, pem)) return usage(("cannot read " + std::string(v)).c_str());
      (arg == "--server-key" ? server_pems : release_pems).push_back(pem);
    } else {
      return usage(("unknown option " + arg).c_str());
    }
  }
  if (slot_dir.empty()) return usage("--slot DIR is required");

  static KeyRing server_keys, release_keys;
  for (const auto& pem : server_pems) {
    if (!server_keys.add_pem(pem.c_str())) return usage("a --server-key is not a P-256 public key PEM");
  }
  for (const auto& pem : release_pems) {
    if (!release_keys.add_pem(pem.c_str())) return usage("a --release-key is not a P-256 public key PEM");
  }
  config.server_keys = &server_keys;
  config.release_keys = &release_keys;

  host::PosixHttpTransport http;
  host::FileFlashWriter flash(slot_dir, slot_size);
  host::SystemClock clock(has_clock, clock_offset);
  host::FileRunningImage running(running_path, slot_dir);
  if (!running_path.empty()) config.running_image = &running;
  host::FileKeyStore key_store(key_file);
  if (!key_file.empty()) config.key_store = &key_store;
  OtaClient client(config, http, flash, clock);

  if (report_booted) {
    const Result r = client.report_booted();
    printf("result: %s\n", result_name(r));
    if (config.key_store != nullptr) printf("credentials: %s\n", result_name(client.credentials()));
    return r == Result::ok ? 0 : 2;
  }
  const Result r = client.update();
  printf("result: %s\n", result_name(r));
  if (config.key_store != nullptr) printf("credentials: %s\n", result_name(client.credentials()));
  if (r == Result::ok || r == Result::no_update) printf("decision: %s\n", decision_name(client.decision()));
  const DownloadStats& s = client.stats();
  printf("delta: %s\n", s.delta_tried ? result_name(s.delta_result) : "none");
  printf("bytes: %" PRIu32 "\npatch_bytes: %" PRIu32 "\nrequests: %" PRIu32 "\nretries: %" PRIu32 "\nhttp_status: %d\n",
         s.bytes_written, s.patch_bytes, s.requests, s.retries, client.last_http_status());
  return r == Result::ok || r == Result::no_update ? 0 : 2;
}
