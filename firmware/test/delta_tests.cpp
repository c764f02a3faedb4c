// Unit tests of the delta applier: esp_delta_ota's 64-byte header, the
// detools sequential patch (heatshrink or none), Espressif's own test
// vectors when ../shared is present, fed whole and one byte at a time,
// hand-built and corrupted patches, and a bounded state.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "check.h"
#include "delta_fixtures.h"
#include "ota_gate/detools_applier.h"
#include "ota_gate/esp_delta_patch.h"
#include "ota_gate/sha256.h"

using namespace ota_gate;
using Bytes = std::vector<uint8_t>;
using namespace delta_fixtures;

namespace {

// Applies `patch` (a bare detools patch) to `base`, feeding `step` bytes at a time.
Result apply(const Bytes& base, const Bytes& patch, Bytes& out, size_t step = 4096) {
  MemoryImage reader(base);
  VectorSink sink(out);
  static DetoolsApplier applier;
  applier.begin(reader, static_cast<uint32_t>(base.size()), sink);
  for (size_t at = 0; at < patch.size(); at += step) {
    const Result r = applier.feed(patch.data() + at, std::min(step, patch.size() - at));
    if (r != Result::ok) return r;
  }
  return applier.finish();
}

Result apply_esp(const Bytes& base, const Bytes& file, Bytes& out, size_t step) {
  MemoryImage reader(base);
  VectorSink sink(out);
  uint8_t buffer[256], whole[32], digest[32];
  const Result d = digest_base(reader, static_cast<uint32_t>(base.size()), buffer, sizeof buffer, whole, digest);
  if (d != Result::ok) return d;
  static EspDeltaPatch patch;
  patch.begin(digest, reader, static_cast<uint32_t>(base.size()), sink);
  for (size_t at = 0; at < file.size(); at += step) {
    const Result r = patch.feed(file.data() + at, std::min(step, file.size() - at));
    if (r != Result::ok) return r;
  }
  return patch.finish();
}

}  // namespace

TEST("delta: the applier's state is constant and well under 4 KiB; it applies nothing before begin()") {
  static_assert(sizeof(DetoolsApplier) <= DetoolsApplier::kStateBudget, "applier over budget");
  static_assert(sizeof(EspDeltaPatch) <= 2048 + 128, "esp_delta_ota wrapper over budget");
  static DetoolsApplier never_begun;
  const uint8_t byte = 0;
  CHECK(never_begun.feed(&byte, 1) == Result::bad_config);
  CHECK(never_begun.finish() == Result::bad_config);
  CHECK(sizeof(DetoolsApplier) <= 2048);
  CHECK(sizeof(EspDeltaPatch) < 4096 / 2);
  printf("  # DetoolsApplier %zu bytes, EspDeltaPatch %zu bytes\n", sizeof(DetoolsApplier), sizeof(EspDeltaPatch));
}

TEST("delta: Espressif's base.bin + patch.bin give new.bin, whole and fed one byte at a time") {
  Bytes base, patch, expected;
  if (!load_fixture("base.bin", base) || !load_fixture("patch.bin", patch) || !load_fixture("new.bin", expected)) {
    printf("  # skipped: %s not found (Espressif's esp_delta_ota test vectors live in ../shared)\n", fixture_dir().c_str());
    return;
  }
  for (size_t step : {size_t{1}, size_t{3}, size_t{64}, size_t{100000}}) {
    Bytes out;
    CHECK(apply(base, patch, out, step) == Result::ok);
    CHECK(out == expected);
  }
  // The same patch behind esp_delta_ota's header naming this base (not an ESP image: its whole SHA-256).
  uint8_t digest[32];
  sha256(base, digest);
  Bytes file = esp_header(digest);
  file.insert(file.end(), patch.begin(), patch.end());
  Bytes out;
  CHECK(apply_esp(base, file, out, 1) == Result::ok);
  CHECK(out == expected);
}

TEST("delta: Espressif's bad_patch.bin is refused or yields an image whose SHA-256 fails") {
  Bytes base, bad, expected;
  if (!load_fixture("base.bin", base) || !load_fixture("bad_patch.bin", bad) || !load_fixture("new.bin", expected)) {
    printf("  # skipped: %s not found\n", fixture_dir().c_str());
    return;
  }
  Bytes out;
  const Result r = apply(base, bad, out, 7);
  uint8_t got[32], want[32];
  sha256(out, got);
  sha256(expected, want);
  CHECK(r != Result::ok || memcmp(got, want, 32) != 0);
}

TEST("delta: the esp_delta_ota header is checked: magic, base digest, reserved bytes") {
  const Bytes base = esp_like_image(4096, 7);
  Bytes target = base;
  target[100] ^= 0x55;
  const Bytes patch = make_patch(base, target, true);
  // The header names an ESP image by its appended SHA-256: its last 32 bytes.
  const uint8_t* appended = base.data() + base.size() - 32;
  Bytes good = esp_header(appended);
  good.insert(good.end(), patch.begin(), patch.end());
  Bytes out;
  CHECK(apply_esp(base, good, out, 5) == Result::ok);
  CHECK(out == target);

  Bytes bad_magic = good;
  bad_magic[3] = 0xfd;
  CHECK(apply_esp(base, bad_magic, out, 5) == Result::delta_header_invalid);
  Bytes other_base = good;
  other_base[4] ^= 1;
  CHECK(apply_esp(base, other_base, out, 5) == Result::delta_base_mismatch);
  uint8_t whole[32];
  sha256(base, whole);
  Bytes named_by_whole = esp_header(whole);  // an ESP image with a hash is named by that hash, not the file's
  named_by_whole.insert(named_by_whole.end(), patch.begin(), patch.end());
  CHECK(apply_esp(base, named_by_whole, out, 5) == Result::delta_base_mismatch);
  Bytes reserved = good;
  reserved[63] = 1;
  CHECK(apply_esp(base, reserved, out, 64) == Result::delta_header_invalid);
  const Bytes header_only(good.begin(), good.begin() + 40);
  CHECK(apply_esp(base, header_only, out, 64) == Result::delta_header_invalid);
}

TEST("delta: hand-built patches round-trip, heatshrink and none, identical, small and total changes") {
  const Bytes base = random_bytes(20000, 1);
  Bytes small = base;
  for (size_t i = 5000; i < 5040; ++i) small[i] = static_cast<uint8_t>(i);
  Bytes longer = base;
  longer.insert(longer.begin() + 777, 3000, 0xAB);
  const Bytes random = random_bytes(15000, 2);
  const Bytes empty_base;
  for (bool heatshrink : {true, false}) {
    for (const Bytes* target : std::initializer_list<const Bytes*>{&base, &small, &longer, &random}) {
      const Bytes patch = make_patch(base, *target, heatshrink);
      for (size_t step : {size_t{1}, size_t{4096}}) {
        Bytes out;
        CHECK(apply(base, patch, out, step) == Result::ok);
        CHECK(out == *target);
      }
    }
    Bytes out;
    CHECK(apply(empty_base, make_patch(empty_base, random, heatshrink), out) == Result::ok);
    CHECK(out == random);
  }
}

TEST("delta: truncated, trailing, oversized and out-of-base patches are refused") {
  const Bytes base = random_bytes(3000, 3);
  Bytes target = base;
  target[10] ^= 0xff;
  const Bytes patch = make_patch(base, target, true);
  Bytes out;
  Bytes truncated(patch.begin(), patch.end() - 1);
  CHECK(apply(base, truncated, out) == Result::delta_corrupt);
  Bytes trailing = patch;
  trailing.push_back(0);
  CHECK(apply(base, trailing, out) == Result::delta_corrupt);

  // Built by hand, uncompressed: type 0x00, target size, then the stream.
  auto none = [](std::initializer_list<uint8_t> bytes) { return Bytes(bytes); };
  // diff size 40 for a 20-byte target
  CHECK(apply(base, none({0x00, 20, 0x00, 40}), out) == Result::delta_corrupt);
  // extra 4 bytes, adjustment -1, then a diff read at base offset -1
  CHECK(apply(base, none({0x00, 8, 0x00, 0, 4, 1, 2, 3, 4, 0x41, 4, 0, 0, 0, 0, 0}), out) == Result::delta_corrupt);
  // a read past the base's end
  CHECK(apply(Bytes(4, 0), none({0x00, 8, 0x00, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), out) == Result::delta_corrupt);
  // negative diff size
  CHECK(apply(base, none({0x00, 8, 0x00, 0x41}), out) == Result::delta_corrupt);
  // a size that never ends
  CHECK(apply(base, none({0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), out) == Result::delta_corrupt);
}

TEST("delta: other patch types, compressions, windows and data-format patches are unsupported") {
  const Bytes base = random_bytes(100, 4);
  Bytes out;
  CHECK(apply(base, Bytes{0x10, 4}, out) == Result::delta_unsupported);        // in-place
  CHECK(apply(base, Bytes{0x01, 4}, out) == Result::delta_unsupported);        // lzma
  CHECK(apply(base, Bytes{0x05, 4}, out) == Result::delta_unsupported);        // zstd
  CHECK(apply(base, Bytes{0x04, 4, 0x74}, out) == Result::delta_unsupported);  // heatshrink window 11
  CHECK(apply(base, Bytes{0x04, 4, 0x45}, out) == Result::delta_unsupported);  // lookahead 8 with window 8
  CHECK(apply(base, Bytes{0x00, 4, 0x01}, out) == Result::delta_unsupported);  // data format patch
  CHECK(apply(base, Bytes{0x80, 4}, out) == Result::delta_corrupt);
}

TEST("delta: corrupted patches never read outside the base nor write past the promised size") {
  const Bytes base = random_bytes(6000, 5);
  Bytes target = base;
  for (size_t i = 0; i < target.size(); i += 997) target[i] ^= 0x5a;
  const Bytes patch = make_patch(base, target, true);
  size_t refused = 0, wrong = 0, same = 0;
  for (size_t i = 0; i < patch.size(); ++i) {
    Bytes bad = patch;
    bad[i] ^= 0x04;
    Bytes out;
    MemoryImage reader(base);
    VectorSink sink(out);
    static DetoolsApplier applier;
    applier.begin(reader, static_cast<uint32_t>(base.size()), sink);
    Result r = Result::ok;
    for (size_t at = 0; at < bad.size() && r == Result::ok; at += 33) {
      r = applier.feed(bad.data() + at, std::min<size_t>(33, bad.size() - at));
    }
    if (r == Result::ok) r = applier.finish();
    // Reads are bounds-checked before the base is touched: a failed read would mean one went outside.
    CHECK(r != Result::base_read_failed);
    CHECK(!applier.has_target_size() || out.size() <= applier.target_size());
    if (r != Result::ok) {
      ++refused;
    } else {
      CHECK(out.size() == applier.target_size());
      ++(out == target ? same : wrong);
    }
  }
  // What the applier accepts but is wrong, the client's SHA-256 check of the result refuses.
  printf("  # %zu refused by the applier, %zu applied to a wrong image, %zu changed nothing (equivalent back-references)\n",
         refused, wrong, same);
}

namespace {

// The server's generator (`ota-gate delta make`), run with node from the built
// repository; false with a reason when it is not built here.
bool server_patch(const Bytes& base, const Bytes& target, Bytes& patch, std::string& why) {
  const std::string cli = "../dist/cli/main.js";
  if (!std::ifstream(cli)) {
    why = cli + " not built (npm run build)";
    return false;
  }
  char tmpl[] = "/tmp/ota-gate-delta-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string a = dir + "/base.bin", b = dir + "/new.bin", p = dir + "/out.patch";
  std::ofstream(a, std::ios::binary).write(reinterpret_cast<const char*>(base.data()), static_cast<long>(base.size()));
  std::ofstream(b, std::ios::binary).write(reinterpret_cast<const char*>(target.data()), static_cast<long>(target.size()));
  const std::string cmd = "node " + cli + " delta make " + a + " " + b + " " + p + " > " + dir + "/log 2>&1";
  const bool ok = system(cmd.c_str()) == 0 && read_file(p, patch);
  if (!ok) {
    Bytes log;
    read_file(dir + "/log", log);
    why = "delta make failed: " + std::string(log.begin(), log.end());
  }
  std::string rm = "rm -rf " + dir;
  if (system(rm.c_str()) != 0) why += " (temporary folder left)";
  return ok;
}

}  // namespace

TEST("delta: patches from the server's generator apply: small change, large change, identical, random") {
  // Not valid ESP images, so both sides name the base by its whole-file SHA-256 (hash_appended off);
  // the end-to-end test covers real images named by their appended hash.
  Bytes base = esp_like_image(200 * 1024, 11);
  base[23] = 0;
  Bytes small = Bytes(base.begin(), base.end() - 32);
  for (size_t i = 4096; i < 4096 + 64; ++i) small[i] ^= 0x21;
  small.insert(small.begin() + 50000, 100, 0x42);
  small.resize(small.size() - 100);
  uint8_t digest[32];
  sha256(small, digest);
  small.insert(small.end(), digest, digest + 32);
  // An upgrade-sized change: a third of the blocks rewritten, the rest shifted by an insertion.
  Bytes large(base.begin(), base.end() - 32);
  const Bytes fresh = random_bytes(large.size(), 12);
  for (size_t i = 0; i < large.size(); i += 3 * 4096) {
    std::copy(fresh.begin() + static_cast<long>(i), fresh.begin() + static_cast<long>(std::min(i + 4096, large.size())),
              large.begin() + static_cast<long>(i));
  }
  large.insert(large.begin() + 1000, 1234, 0);
  large.resize(base.size() - 32);
  sha256(large, digest);
  large.insert(large.end(), digest, digest + 32);
  const Bytes random = random_bytes(150 * 1024, 13);
  struct Case {
    const char* name;
    const Bytes& target;
    size_t step;
  };
  for (const Case& c : {Case{"small", small, 1}, Case{"large", large, 1500}, Case{"identical", base, 4096},
                        Case{"random", random, 4096}}) {
    Bytes patch, out;
    std::string why;
    if (!server_patch(base, c.target, patch, why)) {
      printf("  # skipped: %s\n", why.c_str());
      return;
    }
    const Result r = apply_esp(base, patch, out, c.step);
    if (r != Result::ok) printf("  # %s: %s\n", c.name, result_name(r));
    CHECK(r == Result::ok);
    CHECK(out == c.target);
    printf("  # %s: patch %zu bytes, %.1f%% of the %zu-byte image\n", c.name, patch.size(),
           100.0 * static_cast<double>(patch.size()) / static_cast<double>(c.target.size()), c.target.size());
  }
}
