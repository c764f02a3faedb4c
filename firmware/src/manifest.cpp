#include "ota_gate/manifest.h"

#include <cstring>

#include "ota_gate/identifiers.h"
#include "ota_gate/iso8601.h"
#include "flat_json.h"

namespace ota_gate {

namespace {

using detail::Parser;

enum Field : unsigned {
  kBoard, kChannel, kVersion, kSequence, kSize, kSha256, kMd5, kUrl, kTag, kCommit,
  kReleaseSignature, kReleaseKeyId, kAllowDowngrade, kIssuedAt, kExpiresAt, kFieldCount
};

const char* const kFieldNames[kFieldCount] = {
    "board", "channel", "version", "sequence", "size", "sha256", "md5", "url", "tag", "commit",
    "release_signature", "release_key_id", "allow_downgrade", "issued_at", "expires_at"};

// Fields the device does not act on may be absent without refusing the
// update: md5 (the device checks SHA-256), issued_at, and allow_downgrade
// (absent means false, the safe reading).
constexpr unsigned kOptional = (1u << kMd5) | (1u << kIssuedAt) | (1u << kAllowDowngrade);
constexpr unsigned kRequired = ((1u << kFieldCount) - 1) & ~kOptional;

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
    default: return false;
  }
}

bool is_http_url(const char* s) {
  if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) return false;
  for (const char* c = s; *c != '\0'; ++c) {
    if (*c <= ' ' || *c > '~') return false;
  }
  return true;
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
  char key[64];
  if (!p.eat('{')) return Result::manifest_invalid;
  if (!p.eat('}')) {
    do {
      if (!p.string(key, sizeof key)) return Result::manifest_invalid;
      if (!p.eat(':')) return Result::manifest_invalid;
      unsigned field = kFieldCount;
      for (unsigned i = 0; i < kFieldCount; ++i) {
        if (strcmp(key, kFieldNames[i]) == 0) field = i;
      }
      if (field == kFieldCount) {
        if (!p.skip_value(0)) return Result::manifest_invalid;
        continue;
      }
      if (seen[field] || !read_field(p, field, m)) return Result::manifest_invalid;
      seen[field] = true;
    } while (p.eat(','));
    if (!p.eat('}')) return Result::manifest_invalid;
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
