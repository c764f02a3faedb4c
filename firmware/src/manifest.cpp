#include "ota_gate/manifest.h"

#include <cstring>

#include "ota_gate/identifiers.h"
#include "ota_gate/iso8601.h"
#include "ota_gate/internal/flat_json.h"

namespace ota_gate {

namespace {

using detail::Parser;

enum Field : unsigned {
  kBoard, kChannel, kVersion, kSequence, kSize, kSha256, kMd5, kUrl, kTag, kCommit,
  kReleaseSignature, kReleaseKeyId, kAllowDowngrade, kIssuedAt, kExpiresAt, kDelta, kFieldCount
};

const char* const kFieldNames[kFieldCount] = {
    "board", "channel", "version", "sequence", "size", "sha256", "md5", "url", "tag", "commit",
    "release_signature", "release_key_id", "allow_downgrade", "issued_at", "expires_at", "delta"};

// Fields the device does not act on may be absent without refusing the
// update: md5 (the device checks SHA-256), issued_at, and allow_downgrade
// (absent means false, the safe reading). delta is an offer, not a need.
constexpr unsigned kOptional = (1u << kMd5) | (1u << kIssuedAt) | (1u << kAllowDowngrade) | (1u << kDelta);
constexpr unsigned kRequired = ((1u << kFieldCount) - 1) & ~kOptional;

enum DeltaField : unsigned { kDeltaFormat, kDeltaBase, kDeltaUrl, kDeltaSize, kDeltaSha256, kDeltaFieldCount };

const char* const kDeltaFieldNames[kDeltaFieldCount] = {"format", "base_sha256", "url", "size", "sha256"};

// Reads one JSON object whose known keys (names[0..count)) go through
// read(p, index); other keys are skipped; a repeated known key is refused.
template <typename ReadField>
bool read_object(Parser& p, const char* const* names, unsigned count, bool* seen, ReadField read) {
  char key[64];
  if (!p.eat('{')) return false;
  if (p.eat('}')) return true;
  do {
    if (!p.string(key, sizeof key) || !p.eat(':')) return false;
    unsigned field = count;
    for (unsigned i = 0; i < count; ++i) {
      if (strcmp(key, names[i]) == 0) field = i;
    }
    if (field == count) {
      if (!p.skip_value(0)) return false;
      continue;
    }
    if (seen[field] || !read(p, field)) return false;
    seen[field] = true;
  } while (p.eat(','));
  return p.eat('}');
}

bool is_http_url(const char* s) {
  if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) return false;
  for (const char* c = s; *c != '\0'; ++c) {
    if (*c <= ' ' || *c > '~') return false;
  }
  return true;
}

bool read_delta(Parser& p, DeltaOffer& d) {
  bool seen[kDeltaFieldCount] = {};
  const bool ok = read_object(p, kDeltaFieldNames, kDeltaFieldCount, seen, [&](Parser& q, unsigned field) {
    switch (field) {
      case kDeltaFormat: return q.string(d.format, sizeof d.format);
      case kDeltaBase: return q.string(d.base_sha256, sizeof d.base_sha256);
      case kDeltaUrl: return q.string(d.url, sizeof d.url);
      case kDeltaSize: return q.u32(d.size);
      case kDeltaSha256: return q.string(d.sha256, sizeof d.sha256);
      default: return false;
    }
  });
  if (!ok) return false;
  bool all = true;
  for (bool b : seen) all = all && b;
  // An offer the device cannot use leaves the full image, which is still verified.
  d.present = all && d.format[0] != '\0' && is_lower_hex(d.base_sha256, 64) && is_http_url(d.url) && d.size >= 1 &&
              is_lower_hex(d.sha256, 64);
  return true;
}

bool read_field(Parser& p, unsigned field, Manifest& m) {
  switch (field) {
    case kBoard: return p.string(m.board, sizeof m.board);
    case kChannel: return p.string(m.channel, sizeof m.channel);
    case kVersion: return p.string(m.version, sizeof m.version);
    case kSequence: return p.u32(m.sequence);
    case kSize: return p.u32(m.size);
    case kSha256: return p.string(m.sha256, sizeof m.sha256);
    case kMd5: return p.string(m.md5, sizeof m.md5);
    case kUrl: return p.string(m.url, sizeof m.url);
    case kTag: return p.string(m.tag, sizeof m.tag);
    case kCommit: return p.string(m.commit, sizeof m.commit);
    case kReleaseSignature: return p.string(m.release_signature, sizeof m.release_signature);
    case kReleaseKeyId: return p.string(m.release_key_id, sizeof m.release_key_id);
    case kAllowDowngrade: return p.boolean(m.allow_downgrade);
    case kIssuedAt: return p.string(m.issued_at, sizeof m.issued_at);
    case kExpiresAt: return p.string(m.expires_at, sizeof m.expires_at);
    case kDelta: return read_delta(p, m.delta);
    default: return false;
  }
}

bool fields_well_formed(const Manifest& m) {
  int64_t t;
  return is_board_name(m.board) && is_board_name(m.channel) && is_version_label(m.version) &&
         m.sequence >= 1 && m.size >= 1 && is_lower_hex(m.sha256, 64) && (m.md5[0] == '\0' || is_lower_hex(m.md5, 32)) &&
         is_http_url(m.url) && is_tag(m.tag) && is_lower_hex(m.commit, 40) &&
         m.release_signature[0] != '\0' && is_lower_hex(m.release_key_id, 16) &&
         (m.issued_at[0] == '\0' || parse_iso8601_utc(m.issued_at, t)) &&
         parse_iso8601_utc(m.expires_at, t);
}

}  // namespace

Result parse_manifest(const char* body, size_t len, Manifest& out) {
  Manifest m;
  memset(&m, 0, sizeof m);
  if (len > kMaxManifestBody) return Result::body_too_large;
  Parser p(body, len);
  bool seen[kFieldCount] = {};
  if (!read_object(p, kFieldNames, kFieldCount, seen, [&](Parser& q, unsigned field) { return read_field(q, field, m); })) {
    return Result::manifest_invalid;
  }
  if (!p.at_end()) return Result::manifest_invalid;
  for (unsigned i = 0; i < kFieldCount; ++i) {
    if (!seen[i] && (kRequired & (1u << i)) != 0) return Result::manifest_invalid;
  }
  if (!fields_well_formed(m)) return Result::manifest_invalid;
  out = m;
  return Result::ok;
}

}  // namespace ota_gate
