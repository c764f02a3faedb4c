// Unit tests of the client core: statement rebuilding, the decision rule,
// chunk planning, header and manifest parsing, signatures, and the refusal
// of bad responses served over real loopback HTTP.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "canned_http_server.h"
#include "check.h"
#include "delta_fixtures.h"
#include "file_running_image.h"
#include "file_flash_writer.h"
#include "file_key_store.h"
#include "ota_gate/internal/flat_json.h"
#include "ota_gate/client.h"
#include "posix_http_transport.h"
#include "system_clock.h"

using namespace ota_gate;

namespace {

// Fixed test vectors made with openssl: two P-256 keys, their key ids
// (sha256 of the DER SPKI, first 16 hex), and key A's signature over "hello ota-gate\n".
const char* const kPubA =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEw6/WwgBgspBntGyAk5mnfIFxkEgT\n"
    "zBdPlF95Wgde+iWBidtrIdD06Uwrj+7OY2jxJIMQGRWgT3YoB8oFk9mC2g==\n"
    "-----END PUBLIC KEY-----\n";
const char* const kIdA = "918de16a70456c8f";
const char* const kPubB =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfGW6NHXuOxC3j8ZmHbH317sf/CTf\n"
    "VZrnJC6rxx7yasj545Ot5RbRY34qeDUBylHCEbD0wt3QggaYh5bYsJXjjw==\n"
    "-----END PUBLIC KEY-----\n";
const char* const kIdB = "1395b7b7ad370da2";
const char* const kSigA =
    "MEYCIQDECZCRMrtwoMSeBf9Wg39Pcnz/VaC1KfW7fSyuCl5ruwIhAOYoijL/UyPIky6h0mFB+pnAlHQYWXJaxicRMXzJvU8H";
const char* const kPubP384 =
    "-----BEGIN PUBLIC KEY-----\n"
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEizd7fHLK8C0G/PcHeNhJYDmX3KEIvsX6\n"
    "3VY+rsOEy1TwcV0VZHBxcvkrgMJMRx7w/e8S/bHamW3rT0CMv3jjwR5lGfYSCNOw\n"
    "W0RknIZlUYMun/dVFrhOP68uXjTQjk9D\n"
    "-----END PUBLIC KEY-----\n";
const char kMessage[] = "hello ota-gate\n";

const char* const kSha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const char* const kCommit = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad";

std::string manifest_json(const std::string& extra = "") {
  return std::string("{\"board\":\"esp32cam\",\"channel\":\"stable\",\"version\":\"mason\",\"sequence\":12,") +
         "\"size\":1234567,\"sha256\":\"" + kSha + "\",\"md5\":\"0123456789abcdef0123456789abcdef\"," +
         "\"url\":\"http://127.0.0.1:1/v1/firmware/" + kSha + ".bin\",\"tag\":\"prod-mason\",\"commit\":\"" + kCommit +
         "\",\"release_signature\":\"MEUCIQ==\",\"release_key_id\":\"" + kIdA +
         "\",\"allow_downgrade\":false,\"issued_at\":\"2026-11-27T10:00:00.000Z\"," +
         "\"expires_at\":\"2026-12-04T10:00:00.000Z\"" + extra + "}";
}

Manifest sample_manifest() {
  Manifest m;
  const std::string json = manifest_json();
  if (parse_manifest(json.data(), json.size(), m) != Result::ok) abort();
  return m;
}

HttpResponseHead head_with_length(const char* value) {
  HttpResponseHead head;
  head.capture("Content-Length", value);
  return head;
}

std::string make_temp_dir() {
  char tmpl[] = "/tmp/ota-gate-unit-XXXXXX";
  return mkdtemp(tmpl);
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string http_response(int status, const std::string& headers, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\n" + headers + "Connection: close\r\n\r\n" + body;
}

}  // namespace

TEST("release statement is rebuilt exactly as the contract writes it") {
  const Manifest m = sample_manifest();
  char out[kMaxStatement];
  const size_t n = build_release_statement(m, out, sizeof out);
  CHECK_EQ_STR(std::string(out, n),
               "ota-gate release v1\n"
               "board: esp32cam\n"
               "version: mason\n"
               "sequence: 12\n"
               "size: 1234567\n"
               "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
               "tag: prod-mason\n"
               "commit: 3b18e512dba79e4c8300dd08aeb37f8e728b8dad\n");
}

TEST("release statement refuses a buffer too small rather than truncating") {
  const Manifest m = sample_manifest();
  char out[64];
  CHECK(build_release_statement(m, out, sizeof out) == 0);
}

TEST("decision: flash only for a different version with a greater sequence") {
  CHECK(decide_update("mason", 12, "leafcutter", 13, false) == Decision::update);
  CHECK(decide_update("mason", 12, "mason", 13, false) == Decision::same_version);
  CHECK(decide_update("mason", 12, "leafcutter", 12, false) == Decision::not_newer);
  CHECK(decide_update("mason", 12, "carder", 11, false) == Decision::not_newer);
}

TEST("decision: allow_downgrade permits an older sequence but not the same version") {
  CHECK(decide_update("mason", 12, "carder", 11, true) == Decision::update);
  CHECK(decide_update("mason", 12, "mason", 11, true) == Decision::same_version);
}

TEST("decision: a device on sequence 0 never updates") {
  CHECK(decide_update("dev", 0, "mason", 12, false) == Decision::hand_built);
  CHECK(decide_update("dev", 0, "mason", 12, true) == Decision::hand_built);
}

TEST("chunk size is accepted from 4 KiB to 64 KiB") {
  CHECK(is_valid_chunk_size(4096));
  CHECK(is_valid_chunk_size(65536));
  CHECK(is_valid_chunk_size(16384));
  CHECK(!is_valid_chunk_size(4095));
  CHECK(!is_valid_chunk_size(65537));
  CHECK(!is_valid_chunk_size(0));
}

TEST("chunk plan covers the image exactly, the last chunk clamped") {
  const uint32_t total = 10000;
  uint32_t offset = 0;
  int chunks = 0;
  while (offset < total) {
    const ByteRange r = plan_chunk(offset, total, 4096);
    CHECK(r.first == offset);
    CHECK(r.last < total);
    CHECK(r.length() <= 4096);
    offset = r.last + 1;
    ++chunks;
  }
  CHECK(offset == total);
  CHECK(chunks == 3);
  const ByteRange last = plan_chunk(8192, total, 4096);
  CHECK(last.first == 8192 && last.last == 9999);
}

TEST("chunk plan resumes from an arbitrary byte and handles exact multiples") {
  const ByteRange r = plan_chunk(5000, 8192, 4096);
  CHECK(r.first == 5000 && r.last == 8191);
  const ByteRange whole = plan_chunk(0, 65536, 65536);
  CHECK(whole.first == 0 && whole.last == 65535);
  const ByteRange one = plan_chunk(65535, 65536, 4096);
  CHECK(one.first == 65535 && one.last == 65535 && one.length() == 1);
}

TEST("Content-Length: a plain decimal within the limit is accepted") {
  uint32_t v = 0;
  CHECK(parse_content_length(head_with_length("512"), 1024, v) == Result::ok && v == 512);
  CHECK(parse_content_length(head_with_length(" 1024 "), 1024, v) == Result::ok && v == 1024);
  CHECK(parse_content_length(head_with_length("0"), 1024, v) == Result::ok && v == 0);
}

TEST("Content-Length: missing, malformed, oversized or conflicting is refused") {
  uint32_t v = 0;
  CHECK(parse_content_length(HttpResponseHead(), 1024, v) == Result::no_content_length);
  CHECK(parse_content_length(head_with_length(""), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("-1"), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("+5"), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("12a"), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("1 2"), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("0x10"), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("4294967296"), UINT32_MAX, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("99999999999999999999"), 1024, v) == Result::bad_content_length);
  CHECK(parse_content_length(head_with_length("1025"), 1024, v) == Result::body_too_large);
  HttpResponseHead twice;
  twice.capture("content-length", "10");
  twice.capture("Content-Length", "20");
  CHECK(parse_content_length(twice, 1024, v) == Result::bad_content_length);
}

TEST("a header too long for its buffer marks the response malformed") {
  HttpResponseHead head;
  head.capture("X-OTA-Signature", std::string(200, 'A').c_str());
  CHECK(head.malformed);
  CHECK(head.ota_signature[0] == '\0');
  HttpResponseHead fine;
  fine.capture("x-ota-key-id", "  918de16a70456c8f ");
  CHECK(!fine.malformed);
  CHECK_EQ_STR(fine.ota_key_id, "918de16a70456c8f");
}

TEST("Content-Range is parsed strictly") {
  ContentRange cr;
  CHECK(parse_content_range("bytes 0-4095/120432", cr) && cr.first == 0 && cr.last == 4095 && cr.total == 120432);
  CHECK(!parse_content_range("bytes 0-4095/*", cr));
  CHECK(!parse_content_range("bytes */120432", cr));
  CHECK(!parse_content_range("bytes 10-5/100", cr));
  CHECK(!parse_content_range("bytes 0-100/100", cr));
  CHECK(!parse_content_range("items 0-1/2", cr));
}

TEST("ISO 8601 UTC timestamps convert to Unix time") {
  int64_t t = 0;
  CHECK(parse_iso8601_utc("1970-01-01T00:00:00Z", t) && t == 0);
  CHECK(parse_iso8601_utc("2026-11-27T10:00:00.000Z", t) && t == 1795773600);
  CHECK(parse_iso8601_utc("2024-02-29T23:59:59Z", t) && t == 1709251199);
  CHECK(!parse_iso8601_utc("2025-02-29T00:00:00Z", t));
  CHECK(!parse_iso8601_utc("2026-11-27T10:00:00+01:00", t));
  CHECK(!parse_iso8601_utc("2026-11-27 10:00:00Z", t));
  CHECK(!parse_iso8601_utc("2026-11-27T10:00:00.Z", t));
  // A device clock still near 1970 is not trusted to judge expiry.
  CHECK(!is_plausible_wall_clock(86400));
  CHECK(is_plausible_wall_clock(1795773600));
  // The host's clock is real, so WallClock reads it.
  struct HostWallClock : WallClock {
    void sleep_ms(uint32_t) override {}
  } wall;
  int64_t now = 0;
  CHECK(wall.now_unix(now) && now >= time(nullptr) - 1 && now <= time(nullptr) + 1);
}

TEST("manifest: every field is read; unknown fields, nested too, are skipped") {
  Manifest m;
  const std::string json = manifest_json(",\"notes\":{\"a\":[1,2.5e3,{\"b\":null}],\"c\":\"x\\\"y\"},\"rollout\":42");
  CHECK(parse_manifest(json.data(), json.size(), m) == Result::ok);
  CHECK_EQ_STR(m.board, "esp32cam");
  CHECK_EQ_STR(m.channel, "stable");
  CHECK_EQ_STR(m.version, "mason");
  CHECK(m.sequence == 12);
  CHECK(m.size == 1234567);
  CHECK_EQ_STR(m.sha256, kSha);
  CHECK_EQ_STR(m.tag, "prod-mason");
  CHECK_EQ_STR(m.commit, kCommit);
  CHECK_EQ_STR(m.release_key_id, kIdA);
  CHECK(!m.allow_downgrade);
  CHECK_EQ_STR(m.expires_at, "2026-12-04T10:00:00.000Z");
}

TEST("manifest: a delta object is read; one the device cannot use is dropped, not fatal") {
  const std::string base(64, 'b'), patch(64, 'c');
  const std::string delta = ",\"delta\":{\"format\":\"esp_delta_ota\",\"base_sha256\":\"" + base +
                            "\",\"url\":\"http://127.0.0.1:1/v1/delta/" + base + "/" + kSha +
                            ".patch\",\"size\":4321,\"sha256\":\"" + patch + "\",\"future\":[1]}";
  Manifest m;
  std::string json = manifest_json(delta);
  CHECK(parse_manifest(json.data(), json.size(), m) == Result::ok);
  CHECK(m.delta.present);
  CHECK_EQ_STR(m.delta.format, "esp_delta_ota");
  CHECK_EQ_STR(m.delta.base_sha256, base);
  CHECK(m.delta.size == 4321);
  CHECK_EQ_STR(m.delta.sha256, patch);
  CHECK(std::string(m.delta.url).find("/v1/delta/") != std::string::npos);

  json = manifest_json();
  CHECK(parse_manifest(json.data(), json.size(), m) == Result::ok);
  CHECK(!m.delta.present);
  // Missing size, an uppercase digest: the release stands, the offer goes.
  for (const std::string& bad : {",\"delta\":{\"format\":\"esp_delta_ota\",\"base_sha256\":\"" + base +
                                     "\",\"url\":\"http://x/p\",\"sha256\":\"" + patch + "\"}",
                                 ",\"delta\":{\"format\":\"esp_delta_ota\",\"base_sha256\":\"" + std::string(64, 'B') +
                                     "\",\"url\":\"http://x/p\",\"size\":1,\"sha256\":\"" + patch + "\"}"}) {
    json = manifest_json(bad);
    CHECK(parse_manifest(json.data(), json.size(), m) == Result::ok);
    CHECK(!m.delta.present);
  }
  // Broken JSON or a repeated key is still a broken manifest.
  json = manifest_json(",\"delta\":{\"format\":\"a\",\"format\":\"b\"}");
  CHECK(parse_manifest(json.data(), json.size(), m) == Result::manifest_invalid);
  json = manifest_json(",\"delta\":{},\"delta\":{}");
  CHECK(parse_manifest(json.data(), json.size(), m) == Result::manifest_invalid);
  json = manifest_json(",\"delta\":{\"size\":-1}");
  CHECK(parse_manifest(json.data(), json.size(), m) == Result::manifest_invalid);
}

TEST("manifest: missing, repeated, malformed or trailing content is refused") {
  Manifest m;
  std::string json = manifest_json();
  std::string no_sha = json;
  no_sha.replace(no_sha.find("\"sha256\""), 8, "\"sha257\"");
  CHECK(parse_manifest(no_sha.data(), no_sha.size(), m) == Result::manifest_invalid);
  const std::string twice = manifest_json(",\"sequence\":99");
  CHECK(parse_manifest(twice.data(), twice.size(), m) == Result::manifest_invalid);
  const std::string trailing = json + "x";
  CHECK(parse_manifest(trailing.data(), trailing.size(), m) == Result::manifest_invalid);
  std::string upper = json;
  upper.replace(upper.find("9f86d0"), 6, "9F86D0");
  CHECK(parse_manifest(upper.data(), upper.size(), m) == Result::manifest_invalid);
  std::string negative = json;
  negative.replace(negative.find("\"sequence\":12"), 13, "\"sequence\":-1");
  CHECK(parse_manifest(negative.data(), negative.size(), m) == Result::manifest_invalid);
  std::string newline = json;
  newline.replace(newline.find("prod-mason"), 10, "prod\\nmason");
  CHECK(parse_manifest(newline.data(), newline.size(), m) == Result::manifest_invalid);
  std::string truthy = json;
  truthy.replace(truthy.find("\"allow_downgrade\":false"), 23, "\"allow_downgrade\":1");
  CHECK(parse_manifest(truthy.data(), truthy.size(), m) == Result::manifest_invalid);
  CHECK(parse_manifest(json.data(), json.size() - 1, m) == Result::manifest_invalid);
}

TEST("device MACs normalise to 12 lowercase hex") {
  char out[13];
  CHECK(normalize_mac("AA:BB:CC:DD:EE:FF", out) && std::string(out) == "aabbccddeeff");
  CHECK(normalize_mac("aa-bb-cc-dd-ee-0f", out) && std::string(out) == "aabbccddee0f");
  CHECK(normalize_mac("A0B1C2D3E4F5", out) && std::string(out) == "a0b1c2d3e4f5");
  CHECK(!normalize_mac("aa:bb-cc:dd:ee:ff", out));
  CHECK(!normalize_mac("aabbccddeeg0", out));
}

TEST("key ring computes the contract's key ids and verifies with the named key") {
  KeyRing ring;
  CHECK(ring.add_pem(kPubA));
  CHECK(ring.add_pem(kPubB));
  CHECK_EQ_STR(ring.key_id(0), kIdA);
  CHECK_EQ_STR(ring.key_id(1), kIdB);
  const auto* msg = reinterpret_cast<const uint8_t*>(kMessage);
  const size_t len = sizeof kMessage - 1;
  CHECK(ring.verify(kIdA, msg, len, kSigA, Result::unknown_server_key, Result::manifest_signature_invalid) == Result::ok);
  CHECK(ring.verify(nullptr, msg, len, kSigA, Result::unknown_server_key, Result::manifest_signature_invalid) == Result::ok);
  CHECK(ring.verify(kIdB, msg, len, kSigA, Result::unknown_server_key, Result::manifest_signature_invalid) ==
        Result::manifest_signature_invalid);
  CHECK(ring.verify("0000000000000000", msg, len, kSigA, Result::unknown_server_key,
                    Result::manifest_signature_invalid) == Result::unknown_server_key);
  CHECK(ring.verify(kIdA, msg, len - 1, kSigA, Result::unknown_server_key, Result::manifest_signature_invalid) ==
        Result::manifest_signature_invalid);
  CHECK(ring.verify(kIdA, msg, len, "not base64!", Result::unknown_server_key, Result::manifest_signature_invalid) ==
        Result::manifest_signature_invalid);
}

TEST("key ring refuses non-P-256 keys and garbage") {
  KeyRing ring;
  CHECK(!ring.add_pem(kPubP384));
  CHECK(!ring.add_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
  CHECK(ring.size() == 0);
  KeyRing only_b;
  CHECK(only_b.add_pem(kPubB));
  const auto* msg = reinterpret_cast<const uint8_t*>(kMessage);
  CHECK(only_b.verify(kIdA, msg, sizeof kMessage - 1, kSigA, Result::unknown_release_key,
                      Result::release_signature_invalid) == Result::unknown_release_key);
}

namespace {

struct Device {
  std::string url_;
  KeyRing server_keys, release_keys;
  std::string dir = make_temp_dir();
  host::PosixHttpTransport http{3000};
  host::FileFlashWriter flash{dir, 1966080};
  host::SystemClock clock;
  OtaConfig config;
  explicit Device(const std::string& url) {
    server_keys.add_pem(kPubA);
    release_keys.add_pem(kPubB);
    url_ = url;
    config.server_url = url_.c_str();
    config.board = "esp32cam";
    config.device_mac = "AA:BB:CC:DD:EE:FF";
    config.version = "carder";
    config.sequence = 3;
    config.server_keys = &server_keys;
    config.release_keys = &release_keys;
    config.chunk_size = 4096;
    config.retry_delay_ms = 1;
  }
  ~Device() { std::filesystem::remove_all(dir); }
  bool bootable() const { return exists(dir + "/otadata"); }
};

}  // namespace

TEST("a manifest without Content-Length (chunked) is refused") {
  const std::string body = manifest_json();
  CannedHttpServer server([&](const std::string&) {
    char size[16];
    snprintf(size, sizeof size, "%zx", body.size());
    return http_response(200, "Transfer-Encoding: chunked\r\n", std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n");
  });
  Device device(server.base_url());
  OtaClient client(device.config, device.http, device.flash, device.clock);
  Manifest m;
  CHECK(client.check(m) == Result::no_content_length);
  const auto requests = server.requests();
  CHECK(requests.size() == 1);
  CHECK(!requests.empty() &&
        requests[0].find("GET /v1/manifest?board=esp32cam&device=aabbccddeeff&version=carder&sequence=3&channel=stable "
                         "HTTP/1.1") == 0);
}

TEST("a manifest with a bad or oversized Content-Length is refused") {
  const std::string body = manifest_json();
  std::string length_header;
  CannedHttpServer server([&](const std::string&) { return http_response(200, length_header, body); });
  Device device(server.base_url());
  OtaClient client(device.config, device.http, device.flash, device.clock);
  Manifest m;
  length_header = "Content-Length: 12abc\r\n";
  CHECK(client.check(m) == Result::bad_content_length);
  length_header = "Content-Length: 2000\r\n";
  CHECK(client.check(m) == Result::body_too_large);
  length_header = "Content-Length: " + std::to_string(body.size() + 10) + "\r\n";
  CHECK(client.check(m) == Result::short_body);
  length_header = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  CHECK(client.check(m) == Result::manifest_unsigned);
}

TEST("a chunk answered from the wrong offset aborts and leaves nothing bootable") {
  std::string image(6000, '\x5a');
  image[0] = '\xe9';
  CannedHttpServer server([&](const std::string& request) {
    if (request.rfind("POST ", 0) == 0) return http_response(202, "Content-Length: 2\r\n", "{}");
    const bool first = request.find("Range: bytes=0-4095") != std::string::npos;
    // The second chunk is answered as if the server ignored where it was asked to start.
    const std::string part = image.substr(0, first ? 4096 : 1904);
    return http_response(206,
                         "Content-Length: " + std::to_string(part.size()) + "\r\nContent-Range: bytes 0-" +
                             std::to_string(part.size() - 1) + "/6000\r\n",
                         part);
  });
  Device device(server.base_url());
  OtaClient client(device.config, device.http, device.flash, device.clock);
  Manifest m = sample_manifest();
  m.size = 6000;
  snprintf(m.url, sizeof m.url, "%s/v1/firmware/%s.bin", server.base_url().c_str(), kSha);
  CHECK(client.install(m) == Result::bad_range);
  CHECK(!device.bootable());
  CHECK(!exists(device.dir + "/slot.bin"));
  bool reported = false;
  for (const auto& r : server.requests()) {
    if (r.find("\"status\":\"failed\"") != std::string::npos && r.find("\"detail\":\"bad_range\"") != std::string::npos &&
        r.find("POST /v1/devices/aabbccddeeff/reports") == 0) {
      reported = true;
    }
  }
  CHECK(reported);
}

TEST("an image that does not start with 0xE9 is refused at the first byte") {
  const std::string image(4096, '\x00');
  CannedHttpServer server([&](const std::string& request) {
    if (request.rfind("POST ", 0) == 0) return http_response(202, "Content-Length: 2\r\n", "{}");
    return http_response(206, "Content-Length: 4096\r\nContent-Range: bytes 0-4095/4096\r\n", image);
  });
  Device device(server.base_url());
  OtaClient client(device.config, device.http, device.flash, device.clock);
  Manifest m = sample_manifest();
  m.size = 4096;
  snprintf(m.url, sizeof m.url, "%s/v1/firmware/%s.bin", server.base_url().c_str(), kSha);
  CHECK(client.install(m) == Result::bad_image_magic);
  CHECK(!device.bootable());
}

TEST("retries are bounded when the server keeps failing") {
  CannedHttpServer server([&](const std::string& request) {
    if (request.rfind("POST ", 0) == 0) return http_response(202, "Content-Length: 2\r\n", "{}");
    return http_response(503, "Content-Length: 0\r\n", "");
  });
  Device device(server.base_url());
  device.config.max_retries = 3;
  OtaClient client(device.config, device.http, device.flash, device.clock);
  Manifest m = sample_manifest();
  m.size = 4096;
  snprintf(m.url, sizeof m.url, "%s/v1/firmware/%s.bin", server.base_url().c_str(), kSha);
  CHECK(client.install(m) == Result::download_failed);
  CHECK(client.stats().requests == 4);
  CHECK(client.stats().retries == 3);
  CHECK(!device.bootable());
}

TEST("a configuration outside the contract is refused before any request") {
  CannedHttpServer server([&](const std::string&) { return http_response(500, "Content-Length: 0\r\n", ""); });
  Device device(server.base_url());
  device.config.chunk_size = 1024;
  OtaClient small_chunks(device.config, device.http, device.flash, device.clock);
  Manifest m;
  CHECK(small_chunks.check(m) == Result::bad_config);
  device.config.chunk_size = 4096;
  device.config.device_mac = "not-a-mac";
  OtaClient bad_mac(device.config, device.http, device.flash, device.clock);
  CHECK(bad_mac.check(m) == Result::bad_config);
  CHECK(server.requests().empty());
}

TEST("reports carry status, version, sequence and an escaped detail") {
  CannedHttpServer server([&](const std::string&) { return http_response(202, "Content-Length: 2\r\n", "{}"); });
  Device device(server.base_url());
  OtaClient client(device.config, device.http, device.flash, device.clock);
  CHECK(client.report(ReportStatus::failed, "mason", 12, "flash said \"no\"\n") == Result::ok);
  CHECK(client.report_booted() == Result::ok);
  const auto requests = server.requests();
  CHECK(requests.size() == 2);
  if (requests.size() == 2) {
    CHECK(requests[0].rfind("POST /v1/devices/aabbccddeeff/reports HTTP/1.1\r\n", 0) == 0);
    CHECK(requests[0].find("Content-Type: application/json\r\n") != std::string::npos);
    const std::string body0 = requests[0].substr(requests[0].find("\r\n\r\n") + 4);
    CHECK_EQ_STR(body0, "{\"status\":\"failed\",\"version\":\"mason\",\"sequence\":12,\"detail\":\"flash said \\\"no\\\"?\"}");
    const std::string body1 = requests[1].substr(requests[1].find("\r\n\r\n") + 4);
    CHECK_EQ_STR(body1, "{\"status\":\"booted\",\"version\":\"carder\",\"sequence\":3}");
  }
}

namespace {

std::string json(int status, const std::string& body) {
  return http_response(status, "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n", body);
}

// A device running `base`, offered `target` by patch and by full image, over loopback HTTP.
// `damage` flips one byte of what is served: of the patch, of the image, or both.
struct DeltaBench {
  delta_fixtures::Bytes base, target, patch;
  bool damage_patch = false, damage_image = false;
  uint32_t cut_patch_after = 0;  // the first patch answer ends after this many body bytes (0: never)
  std::string kept_digest;       // what the device kept of its running image; default: the base's
  std::string running_bytes_override;
  bool credentials = false;      // the device has a key store: the server answers 401 to anything without its token

  static std::string hex(const delta_fixtures::Bytes& b) {
    uint8_t d[32];
    char out[65];
    delta_fixtures::sha256(b, d);
    to_lower_hex(d, 32, out);
    return out;
  }

  DeltaBench() {
    base = delta_fixtures::esp_like_image(64 * 1024, 21);
    target.assign(base.begin(), base.end() - 32);
    for (size_t i = 30000; i < 30100; ++i) target[i] = static_cast<uint8_t>(i * 7);
    uint8_t d[32];
    delta_fixtures::sha256(target, d);
    target.insert(target.end(), d, d + 32);
    patch = delta_fixtures::esp_header(base.data() + base.size() - 32);
    const auto body = delta_fixtures::make_patch(base, target, true);
    patch.insert(patch.end(), body.begin(), body.end());
  }

  // Serves `bytes` for a Range request, as /v1/firmware does.
  static std::string ranged(const std::string& request, const delta_fixtures::Bytes& bytes, bool damage, uint32_t cut) {
    const size_t at = request.find("Range: bytes=");
    size_t first = 0, last = bytes.size() - 1;
    if (at != std::string::npos) sscanf(request.c_str() + at, "Range: bytes=%zu-%zu", &first, &last);
    if (last >= bytes.size()) last = bytes.size() - 1;
    std::string part(bytes.begin() + static_cast<long>(first), bytes.begin() + static_cast<long>(last + 1));
    if (damage && first <= 1000 && 1000 <= last) part[1000 - first] ^= 0x01;
    const std::string head = "Content-Length: " + std::to_string(part.size()) + "\r\nContent-Range: bytes " +
                             std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(bytes.size()) + "\r\n";
    if (cut > 0 && cut < part.size()) part.resize(cut);
    return http_response(206, head, part);
  }
};

std::string delta_handler(DeltaBench& b, const std::string& request, bool& patch_cut) {
  if (request.rfind("POST /v1/devices/aabbccddeeff/enroll ", 0) == 0) return json(200, "{\"state\":\"accepted\"}");
  if (request.rfind("GET /v1/devices/aabbccddeeff/challenge ", 0) == 0) {
    return json(200, "{\"challenge\":\"9999999999999.00ff.mac\",\"expires_at\":\"2099-01-01T00:00:00.000Z\"}");
  }
  if (request.rfind("POST /v1/devices/aabbccddeeff/token ", 0) == 0) {
    return json(200, "{\"token\":\"otd_delta\",\"expires_at\":\"2099-01-01T00:00:00.000Z\"}");
  }
  // Like a server with OTA_DEVICE_AUTH=required: nothing without the device's token.
  if (b.credentials && request.find("Authorization: Bearer otd_delta\r\n") == std::string::npos) {
    return json(401, "{\"error\":\"device_token_required\",\"message\":\"send the device token\"}");
  }
  if (request.rfind("POST ", 0) == 0) return http_response(202, "Content-Length: 2\r\n", "{}");
  if (request.find("GET /patch ") == 0) {
    const uint32_t cut = patch_cut ? 0 : b.cut_patch_after;
    patch_cut = true;
    return DeltaBench::ranged(request, b.patch, b.damage_patch, cut);
  }
  return DeltaBench::ranged(request, b.target, b.damage_image, 0);
}

Manifest delta_manifest(const DeltaBench& b, const std::string& url) {
  Manifest m = sample_manifest();
  m.size = static_cast<uint32_t>(b.target.size());
  snprintf(m.sha256, sizeof m.sha256, "%s", DeltaBench::hex(b.target).c_str());
  snprintf(m.url, sizeof m.url, "%s/image", url.c_str());
  m.delta.present = true;
  snprintf(m.delta.format, sizeof m.delta.format, "esp_delta_ota");
  snprintf(m.delta.base_sha256, sizeof m.delta.base_sha256, "%s", DeltaBench::hex(b.base).c_str());
  snprintf(m.delta.url, sizeof m.delta.url, "%s/patch", url.c_str());
  m.delta.size = static_cast<uint32_t>(b.patch.size());
  snprintf(m.delta.sha256, sizeof m.delta.sha256, "%s", DeltaBench::hex(b.patch).c_str());
  return m;
}

struct DeltaRun {
  Result result;
  DownloadStats stats;
  std::vector<std::string> requests;
  bool bootable;
  delta_fixtures::Bytes slot;
  std::string next_digest;
};

DeltaRun run_delta(DeltaBench& b) {
  bool patch_cut = false;
  CannedHttpServer server([&](const std::string& request) { return delta_handler(b, request, patch_cut); });
  Device device(server.base_url());
  const std::string running = device.dir + "/running.bin";
  const auto& bytes = b.base;
  std::ofstream(running, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
  if (!b.running_bytes_override.empty()) std::ofstream(running, std::ios::binary) << b.running_bytes_override;
  std::ofstream(running + ".sha256") << (b.kept_digest.empty() ? DeltaBench::hex(b.base) : b.kept_digest) << "\n";
  host::FileRunningImage image(running, device.dir);
  device.config.running_image = &image;
  host::FileKeyStore key_store(device.dir + "/key.der");
  if (b.credentials) device.config.key_store = &key_store;
  OtaClient client(device.config, device.http, device.flash, device.clock);
  DeltaRun out;
  out.result = client.install(delta_manifest(b, server.base_url()));
  out.stats = client.stats();
  out.requests = server.requests();
  out.bootable = device.bootable();
  delta_fixtures::read_file(device.dir + "/slot.bin", out.slot);
  delta_fixtures::Bytes digest;
  delta_fixtures::read_file(device.dir + "/slot.bin.sha256", digest);
  out.next_digest.assign(digest.begin(), digest.end());
  return out;
}

size_t count_requests(const DeltaRun& r, const char* prefix) {
  size_t n = 0;
  for (const auto& q : r.requests) n += q.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

// Index of the first report with this status (and detail), or -1.
long report_index(const DeltaRun& r, const std::string& status, const std::string& detail = "") {
  for (size_t i = 0; i < r.requests.size(); ++i) {
    const auto& q = r.requests[i];
    if (q.rfind("POST ", 0) == 0 && q.find("\"status\":\"" + status + "\"") != std::string::npos &&
        (detail.empty() || q.find("\"detail\":\"" + detail + "\"") != std::string::npos)) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

}  // namespace

TEST("delta install: the image is rebuilt from the patch alone and its digest kept for the next update") {
  DeltaBench b;
  const DeltaRun r = run_delta(b);
  CHECK(r.result == Result::ok);
  CHECK(r.stats.delta_tried && r.stats.delta_result == Result::ok);
  CHECK(r.bootable);
  CHECK(r.slot == b.target);
  CHECK(count_requests(r, "GET /image") == 0);
  CHECK(r.stats.patch_bytes == b.patch.size());
  CHECK(r.next_digest == DeltaBench::hex(b.target) + "\n");
  CHECK(report_index(r, "delta_failed") < 0);
  CHECK(report_index(r, "installed") >= 0);
}

TEST("delta install: with device credentials the patch download carries the device token like the rest") {
  DeltaBench b;
  b.credentials = true;
  b.cut_patch_after = 700;
  const DeltaRun r = run_delta(b);
  CHECK(r.result == Result::ok);
  CHECK(r.stats.delta_result == Result::ok);
  CHECK(r.slot == b.target);
  CHECK(count_requests(r, "GET /patch") >= 2);
  for (const auto& q : r.requests) {
    if (q.rfind("GET /patch", 0) == 0 || q.rfind("POST /v1/devices/aabbccddeeff/reports", 0) == 0) {
      CHECK(q.find("Authorization: Bearer otd_delta\r\n") != std::string::npos);
    }
  }
  CHECK(report_index(r, "delta_failed") < 0);
  CHECK(report_index(r, "installed") >= 0);
}

TEST("delta install: a patch download cut mid-way resumes at the byte it stopped and applies") {
  DeltaBench b;
  b.cut_patch_after = 700;
  const DeltaRun r = run_delta(b);
  CHECK(r.result == Result::ok);
  CHECK(r.stats.delta_result == Result::ok);
  CHECK(r.stats.retries == 1);
  CHECK(r.slot == b.target);
  bool resumed = false;
  for (const auto& q : r.requests) resumed = resumed || (q.rfind("GET /patch", 0) == 0 && q.find("Range: bytes=700-") != std::string::npos);
  CHECK(resumed);
}

TEST("delta install: a damaged patch is reported delta_failed, then the full image is installed") {
  DeltaBench b;
  b.damage_patch = true;
  const DeltaRun r = run_delta(b);
  CHECK(r.result == Result::ok);
  CHECK(r.stats.delta_tried && r.stats.delta_result != Result::ok);
  CHECK(r.slot == b.target);
  CHECK(count_requests(r, "GET /image") > 0);
  const long failed = report_index(r, "delta_failed", result_name(r.stats.delta_result));
  CHECK(failed >= 0);
  CHECK(failed < report_index(r, "downloaded"));
}

TEST("delta install: with the patch and the full image damaged, nothing is bootable and the slot is erased") {
  DeltaBench b;
  b.damage_patch = true;
  b.damage_image = true;
  const DeltaRun r = run_delta(b);
  CHECK(r.result == Result::sha256_mismatch);
  CHECK(!r.bootable);
  CHECK(r.slot.empty());
  CHECK(report_index(r, "delta_failed") >= 0);
  CHECK(report_index(r, "failed", "sha256_mismatch") >= 0);
  CHECK(report_index(r, "installed") < 0);
}

TEST("delta install: a running image that is not the patch's base is never patched") {
  DeltaBench kept_other;
  kept_other.kept_digest = std::string(64, 'a');  // the device kept another image's digest
  DeltaRun r = run_delta(kept_other);
  CHECK(r.result == Result::ok);
  CHECK(r.stats.delta_result == Result::delta_base_mismatch);
  CHECK(count_requests(r, "GET /patch") == 0);
  CHECK(r.slot == kept_other.target);

  DeltaBench changed;
  changed.running_bytes_override = "not the image the digest was kept for";
  r = run_delta(changed);
  CHECK(r.result == Result::ok);
  CHECK(r.stats.delta_result == Result::delta_base_mismatch);
  CHECK(count_requests(r, "GET /patch") == 0);
  CHECK(r.slot == changed.target);
}

TEST("delta install: a patch for an image of another size is abandoned at its header") {
  DeltaBench b;
  b.target.insert(b.target.end(), 16, 0);  // the release is 16 bytes longer than the image the patch builds
  const DeltaRun r = run_delta(b);
  CHECK(r.stats.delta_result == Result::size_mismatch);
  CHECK(r.stats.patch_bytes < 4096);
  CHECK(r.result == Result::ok);
  CHECK(r.slot == b.target);
}

// ---------------------------------------------------------------- device credentials

std::string pem_of(const char* base64_der) {
  std::string b64(base64_der), pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END PUBLIC KEY-----\n";
}

TEST("device key: made, signed with (verifiable with its public key), kept and read back the same") {
  DeviceKey key;
  CHECK(!key.valid());
  CHECK(key.generate());
  char public_b64[160], id[17];
  CHECK(key.public_key_base64(public_b64, sizeof public_b64));
  CHECK(key.key_id(id));
  KeyRing ring;
  CHECK(ring.add_pem(pem_of(public_b64).c_str()));
  CHECK_EQ_STR(std::string(ring.key_id(0)), std::string(id));
  char signature[128];
  CHECK(key.sign_base64(reinterpret_cast<const uint8_t*>(kMessage), strlen(kMessage), signature, sizeof signature));
  CHECK(ring.verify(id, reinterpret_cast<const uint8_t*>(kMessage), strlen(kMessage), signature, Result::unknown_release_key,
                    Result::release_signature_invalid) == Result::ok);
  CHECK(ring.verify(id, reinterpret_cast<const uint8_t*>("other"), 5, signature, Result::unknown_release_key,
                    Result::release_signature_invalid) == Result::release_signature_invalid);

  const std::string dir = std::filesystem::temp_directory_path() / ("ota-key-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  host::FileKeyStore store(dir + "/device.der");
  uint8_t der[kMaxPrivateKeyDer];
  size_t len = key.private_der(der, sizeof der);
  CHECK(len > 0);
  CHECK(store.save(der, len));
  struct stat st {};
  CHECK(stat((dir + "/device.der").c_str(), &st) == 0 && (st.st_mode & 0077) == 0);
  uint8_t back[kMaxPrivateKeyDer];
  size_t back_len = 0;
  CHECK(store.load(back, sizeof back, back_len));
  DeviceKey again;
  CHECK(again.load_der(back, back_len));
  char id_again[17];
  CHECK(again.key_id(id_again));
  CHECK_EQ_STR(std::string(id_again), std::string(id));
  CHECK(!again.load_der(reinterpret_cast<const uint8_t*>("garbage"), 7));
  CHECK(!again.valid());
  std::filesystem::remove_all(dir);
}

TEST("credential answers: one string field of a flat JSON object, bounded") {
  const char body[] = "{\"challenge\":\"123.abc.def\",\"expires_at\":\"2026-12-01T10:00:00.000Z\",\"n\":[1,{\"x\":2}]}";
  char out[16];
  CHECK(detail::json_string_field(body, strlen(body), "challenge", out, sizeof out));
  CHECK_EQ_STR(std::string(out), std::string("123.abc.def"));
  CHECK(!detail::json_string_field(body, strlen(body), "expires_at", out, 8));
  CHECK(!detail::json_string_field(body, strlen(body), "token", out, sizeof out));
  CHECK(!detail::json_string_field(body, strlen(body), "n", out, sizeof out));
  CHECK(!detail::json_string_field("{\"challenge\":\"x\"} trailing", 26, "challenge", out, sizeof out));
}

TEST("with a key store the device enrolls, signs the challenge, and sends its token on polls and reports") {
  const std::string dir = std::filesystem::temp_directory_path() / ("ota-cred-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  CannedHttpServer server([&](const std::string& req) {
    if (req.rfind("POST /v1/devices/aabbccddeeff/enroll ", 0) == 0) return json(200, "{\"state\":\"accepted\"}");
    if (req.rfind("GET /v1/devices/aabbccddeeff/challenge ", 0) == 0) return json(200, "{\"challenge\":\"9999999999999.00ff.mac\",\"expires_at\":\"2099-01-01T00:00:00.000Z\"}");
    if (req.rfind("POST /v1/devices/aabbccddeeff/token ", 0) == 0) return json(200, "{\"token\":\"otd_test\",\"expires_at\":\"2099-01-01T00:00:00.000Z\"}");
    if (req.rfind("GET /v1/manifest", 0) == 0) return json(404, "{\"error\":\"no_release\",\"message\":\"none\"}");
    return json(202, "{\"accepted\":true}");
  });
  Device device(server.base_url());
  host::FileKeyStore store(dir + "/key.der");
  device.config.key_store = &store;
  device.config.enrollment_token = "ote_batch-7";
  OtaClient client(device.config, device.http, device.flash, device.clock);
  Manifest m;
  CHECK(client.check(m) == Result::no_release);
  CHECK(client.credentials() == Result::ok);
  CHECK(client.report_booted() == Result::ok);
  const auto requests = server.requests();
  CHECK(requests.size() == 5);
  if (requests.size() == 5) {
    CHECK(requests[0].find("\"enrollment_token\":\"ote_batch-7\"") != std::string::npos);
    CHECK(requests[0].find("\"board\":\"esp32cam\"") != std::string::npos);
    const std::string token_body = requests[2].substr(requests[2].find("\r\n\r\n") + 4);
    CHECK(token_body.find("{\"challenge\":\"9999999999999.00ff.mac\",\"signature\":\"") == 0);
    CHECK(requests[3].rfind("GET /v1/manifest", 0) == 0);
    CHECK(requests[3].find("Authorization: Bearer otd_test\r\n") != std::string::npos);
    CHECK(requests[4].find("Authorization: Bearer otd_test\r\n") != std::string::npos);
  }
  // The next run of the firmware finds its key and asks for a token without enrolling again.
  OtaClient later(device.config, device.http, device.flash, device.clock);
  CHECK(later.authenticate() == Result::ok);
  const auto after = server.requests();
  CHECK(after.size() == 7);
  if (after.size() == 7) CHECK(after[5].rfind("GET /v1/devices/aabbccddeeff/challenge ", 0) == 0);
  std::filesystem::remove_all(dir);
}

int main() { return check::run_all(); }
