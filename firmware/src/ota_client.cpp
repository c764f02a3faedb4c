#include "ota_gate/ota_client.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "ota_gate/internal/flat_json.h"
#include "ota_gate/chunk_plan.h"
#include "ota_gate/esp_delta_patch.h"
#include "ota_gate/esp_image.h"
#include "ota_gate/http_fields.h"
#include "ota_gate/identifiers.h"
#include "ota_gate/iso8601.h"
#include "ota_gate/release_statement.h"
#include "ota_gate/sha256.h"

namespace ota_gate {

namespace {

constexpr uint32_t kMaxRetryDelayMs = 30000;
// A token is renewed this long before it expires (when the device has time).
constexpr int64_t kTokenRenewBeforeS = 600;
constexpr int kUnauthorized = 401;

// Appends s to out (capacity cap, NUL kept), percent-encoding all but RFC 3986 unreserved bytes.
bool append_encoded(char* out, size_t cap, const char* s) {
  static const char kHex[] = "0123456789ABCDEF";
  size_t n = strlen(out);
  for (; *s != '\0'; ++s) {
    const unsigned char c = static_cast<unsigned char>(*s);
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    const size_t need = plain ? 1 : 3;
    if (n + need >= cap) return false;
    if (plain) {
      out[n++] = static_cast<char>(c);
    } else {
      out[n++] = '%';
      out[n++] = kHex[c >> 4];
      out[n++] = kHex[c & 0x0f];
    }
  }
  out[n] = '\0';
  return true;
}

bool append(char* out, size_t cap, const char* s) {
  const size_t n = strlen(out);
  const size_t len = strlen(s);
  if (n + len >= cap) return false;
  memcpy(out + n, s, len + 1);
  return true;
}

// The server URL without trailing slashes.
bool append_base(char* out, size_t cap, const char* server_url) {
  size_t len = strlen(server_url);
  while (len > 0 && server_url[len - 1] == '/') --len;
  if (len + 1 > cap) return false;
  memcpy(out, server_url, len);
  out[len] = '\0';
  return true;
}

// Printable ASCII only, quotes and backslashes escaped, at most 96 characters.
void json_escape(const char* in, char* out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; in[i] != '\0' && i < 96 && n + 3 < cap; ++i) {
    char c = in[i];
    if (c < ' ' || c > '~') c = '?';
    if (c == '"' || c == '\\') out[n++] = '\\';
    out[n++] = c;
  }
  out[n] = '\0';
}

// A response that is worth asking again: the server or the path had a bad moment.
bool is_transient_status(int status) { return status >= 500 || status == 408 || status == 429; }

bool is_transient(Result r) { return r == Result::transport_error || r == Result::short_body; }

// Enrollment tokens are ote_ and base64url: nothing that needs escaping in JSON.
bool is_token_text(const char* s) {
  if (s == nullptr || *s == '\0' || strlen(s) > 100) return false;
  for (; *s != '\0'; ++s) {
    const char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

// Takes the body bytes of a ranged download, in order.
class ChunkConsumer {
 public:
  virtual ~ChunkConsumer() = default;
  virtual Result consume(const uint8_t* data, size_t len) = 0;
};

namespace {

// The image on its way to the slot, from the network or from the patch
// applier: first-byte check, flash write, SHA-256.
class ImageWriter : public ChunkConsumer, public ByteSink {
 public:
  ImageWriter(FlashWriter& flash, Sha256& sha) : flash_(flash), sha_(sha) {}

  Result consume(const uint8_t* data, size_t len) override {
    if (written_ == 0 && data[0] != kEspImageMagic) return Result::bad_image_magic;
    if (!flash_.write(data, len)) return Result::flash_write_failed;
    if (!sha_.update(data, len)) return Result::crypto_error;
    written_ += static_cast<uint32_t>(len);
    return Result::ok;
  }
  bool write(const uint8_t* data, size_t len) override {
    error_ = consume(data, len);
    return error_ == Result::ok;
  }
  // Why the last write() was refused.
  Result error() const { return error_; }
  uint32_t written() const { return written_; }

 private:
  FlashWriter& flash_;
  Sha256& sha_;
  uint32_t written_ = 0;
  Result error_ = Result::ok;
};

// Patch bytes: hashed as served and fed to the applier, which writes the image.
class PatchFeeder : public ChunkConsumer {
 public:
  PatchFeeder(EspDeltaPatch& patch, ImageWriter& image, uint32_t image_size, Sha256& sha)
      : patch_(patch), image_(image), image_size_(image_size), sha_(sha) {}

  Result consume(const uint8_t* data, size_t len) override {
    if (!sha_.update(data, len)) return Result::crypto_error;
    Result r = patch_.feed(data, len);
    if (r == Result::flash_write_failed) r = image_.error();
    // The patch says how big an image it makes: stop at once when it is not the release's.
    if (r == Result::ok && patch_.applier().has_target_size() && patch_.applier().target_size() != image_size_) {
      r = Result::size_mismatch;
    }
    return r;
  }

 private:
  EspDeltaPatch& patch_;
  ImageWriter& image_;
  uint32_t image_size_;
  Sha256& sha_;
};

}  // namespace

const char* report_status_name(ReportStatus s) {
  switch (s) {
    case ReportStatus::downloading: return "downloading";
    case ReportStatus::downloaded: return "downloaded";
    case ReportStatus::installed: return "installed";
    case ReportStatus::booted: return "booted";
    case ReportStatus::failed: return "failed";
    case ReportStatus::rolled_back: return "rolled_back";
    case ReportStatus::delta_failed: return "delta_failed";
  }
  return "failed";
}

OtaClient::OtaClient(const OtaConfig& config, HttpTransport& http, FlashWriter& flash, Clock& clock)
    : config_(config), http_(http), flash_(flash), clock_(clock) {
  if (!normalize_mac(config.device_mac, mac_)) mac_[0] = '\0';
  memset(&manifest_, 0, sizeof manifest_);
  body_[0] = '\0';
  url_[0] = '\0';
  token_[0] = '\0';
}

// ---------------------------------------------------------------- credentials

Result OtaClient::device_call(const char* suffix, const char* json, int& status, uint32_t& body_len) {
  status = 0;
  body_len = 0;
  url_[0] = '\0';
  if (!append_base(url_, sizeof url_, config_.server_url) || !append(url_, sizeof url_, "/v1/devices/") ||
      !append(url_, sizeof url_, mac_) || !append(url_, sizeof url_, suffix)) {
    return Result::bad_config;
  }
  HttpRequest request;
  request.url = url_;
  if (json != nullptr) {
    request.method = HttpMethod::post;
    request.content_type = "application/json";
    request.body = reinterpret_cast<const uint8_t*>(json);
    request.body_len = strlen(json);
  }
  HttpResponseHead head;
  if (!http_.open(request, head)) return Result::transport_error;
  status = last_http_status_ = head.status;
  Result r = parse_content_length(head, kMaxManifestBody, body_len);
  if (r == Result::ok) r = read_body(body_len, reinterpret_cast<uint8_t*>(body_));
  http_.close();
  body_[r == Result::ok ? body_len : 0] = '\0';
  return r;
}

Result OtaClient::load_or_make_key(bool& made) {
  made = false;
  if (key_.valid()) return Result::ok;
  uint8_t der[kMaxPrivateKeyDer];
  size_t len = 0;
  if (config_.key_store->load(der, sizeof der, len) && key_.load_der(der, len)) return Result::ok;
  // No key yet (first boot), or one that no longer parses: make one and keep it.
  if (!key_.generate()) return Result::crypto_error;
  len = key_.private_der(der, sizeof der);
  const bool saved = len > 0 && config_.key_store->save(der, len);
  memset(der, 0, sizeof der);
  if (!saved) return Result::key_store_failed;
  made = true;
  return Result::ok;
}

Result OtaClient::enroll() {
  char public_key[160];
  if (!key_.public_key_base64(public_key, sizeof public_key)) return Result::crypto_error;
  const bool with_token = config_.enrollment_token != nullptr && config_.enrollment_token[0] != '\0';
  if (with_token && !is_token_text(config_.enrollment_token)) return Result::bad_config;
  char json[512];
  const int n = snprintf(json, sizeof json, "{\"public_key\":\"%s\",\"board\":\"%s\"%s%s%s}", public_key, config_.board,
                         with_token ? ",\"enrollment_token\":\"" : "", with_token ? config_.enrollment_token : "", with_token ? "\"" : "");
  if (n <= 0 || static_cast<size_t>(n) >= sizeof json) return Result::bad_config;
  int status = 0;
  uint32_t len = 0;
  const Result r = device_call("/enroll", json, status, len);
  if (status == 200) return Result::ok;
  if (status == 202) return Result::device_pending;
  if (status == 403) return Result::device_rejected;
  return r != Result::ok ? r : Result::http_status;
}

Result OtaClient::fetch_token() {
  int status = 0;
  uint32_t len = 0;
  Result r = device_call("/challenge", nullptr, status, len);
  if (r != Result::ok) return r;
  char challenge[129];
  if (status != 200 || !detail::json_string_field(body_, len, "challenge", challenge, sizeof challenge)) return Result::http_status;
  char statement[256];
  const int n = snprintf(statement, sizeof statement, "ota-gate device token v1\ndevice: %s\nchallenge: %s\n", mac_, challenge);
  char signature[128];
  if (n <= 0 || static_cast<size_t>(n) >= sizeof statement ||
      !key_.sign_base64(reinterpret_cast<const uint8_t*>(statement), static_cast<size_t>(n), signature, sizeof signature)) {
    return Result::crypto_error;
  }
  char json[400];
  if (snprintf(json, sizeof json, "{\"challenge\":\"%s\",\"signature\":\"%s\"}", challenge, signature) >= static_cast<int>(sizeof json)) {
    return Result::bad_config;
  }
  r = device_call("/token", json, status, len);
  if (r != Result::ok) return r;
  char error[32] = {};
  if (status == 404) return Result::device_not_enrolled;
  if (status == 403) {
    detail::json_string_field(body_, len, "error", error, sizeof error);
    return strcmp(error, "device_pending") == 0 ? Result::device_pending : Result::device_rejected;
  }
  char expires[32];
  if (status != 200 || !detail::json_string_field(body_, len, "token", token_, sizeof token_) ||
      !detail::json_string_field(body_, len, "expires_at", expires, sizeof expires)) {
    token_[0] = '\0';
    return status == kUnauthorized ? Result::unauthorized : Result::http_status;
  }
  if (!parse_iso8601_utc(expires, token_expires_)) token_expires_ = 0;
  return Result::ok;
}

Result OtaClient::authenticate() {
  if (config_.key_store == nullptr) return Result::bad_config;
  if (config_.server_url == nullptr || mac_[0] == '\0' || !is_board_name(config_.board)) return Result::bad_config;
  token_[0] = '\0';
  credentials_tried_ = true;
  bool made = false;
  Result r = load_or_make_key(made);
  // A key the server may know: ask for a token first, the cheap path of every later boot.
  if (r == Result::ok && !made) r = fetch_token();
  if (r == Result::device_not_enrolled || made) {
    r = enroll();
    if (r == Result::ok) r = fetch_token();
  }
  credentials_ = r;
  return r;
}

// Once per poll or report: a token when the device has none or it is about to
// expire. Without one the request goes out bare (the server may still answer).
void OtaClient::prepare_credentials() {
  if (config_.key_store == nullptr) return;
  int64_t now = 0;
  const bool expiring = token_[0] != '\0' && token_expires_ > 0 && clock_.now_unix(now) && now + kTokenRenewBeforeS >= token_expires_;
  if ((token_[0] == '\0' && !credentials_tried_) || expiring) authenticate();
}

Result OtaClient::validate_config() const {
  const OtaConfig& c = config_;
  const bool ok = c.server_url != nullptr &&
                  (strncmp(c.server_url, "http://", 7) == 0 || strncmp(c.server_url, "https://", 8) == 0) &&
                  is_board_name(c.board) && is_board_name(c.channel) && is_version_label(c.version) &&
                  mac_[0] != '\0' && c.server_keys != nullptr && c.server_keys->size() > 0 &&
                  c.release_keys != nullptr && c.release_keys->size() > 0 &&
                  is_valid_chunk_size(c.chunk_size);
  return ok ? Result::ok : Result::bad_config;
}

Result OtaClient::read_body(uint32_t len, uint8_t* out) {
  uint32_t got = 0;
  while (got < len) {
    const int n = http_.read(out + got, len - got);
    if (n <= 0) return Result::short_body;
    got += static_cast<uint32_t>(n);
  }
  return Result::ok;
}

Result OtaClient::fetch_manifest(HttpResponseHead& head, uint32_t& body_len) {
  char sequence[12];
  snprintf(sequence, sizeof sequence, "%" PRIu32, config_.sequence);
  const bool built = append_base(url_, sizeof url_, config_.server_url) &&
                     append(url_, sizeof url_, "/v1/manifest?board=") &&
                     append_encoded(url_, sizeof url_, config_.board) &&
                     append(url_, sizeof url_, "&device=") && append(url_, sizeof url_, mac_) &&
                     append(url_, sizeof url_, "&version=") &&
                     append_encoded(url_, sizeof url_, config_.version) &&
                     append(url_, sizeof url_, "&sequence=") && append(url_, sizeof url_, sequence) &&
                     append(url_, sizeof url_, "&channel=") &&
                     append_encoded(url_, sizeof url_, config_.channel);
  if (!built) return Result::bad_config;
  // A delta is asked for only with the running image's digest, kept from the update that installed it.
  char running[65];
  if (kept_running_digest(running)) {
    if (!append(url_, sizeof url_, "&delta=") || !append(url_, sizeof url_, kDeltaFormat) ||
        !append(url_, sizeof url_, "&running=") || !append(url_, sizeof url_, running)) {
      return Result::bad_config;
    }
  }

  HttpRequest request;
  request.url = url_;
  request.bearer_token = bearer();
  head.reset();
  if (!http_.open(request, head)) return Result::transport_error;
  last_http_status_ = head.status;
  Result r = Result::ok;
  if (head.status == kUnauthorized) {
    r = Result::unauthorized;
  } else if (head.status == 404) {
    r = Result::no_release;
  } else if (head.status != 200) {
    r = Result::http_status;
  } else {
    r = parse_content_length(head, kMaxManifestBody, body_len);
    if (r == Result::ok) r = read_body(body_len, reinterpret_cast<uint8_t*>(body_));
  }
  http_.close();
  if (r == Result::ok) body_[body_len] = '\0';
  return r;
}

Result OtaClient::verify_manifest(const HttpResponseHead& head, uint32_t body_len, Manifest& m) {
  // The signature covers the exact bytes received, so it is checked before parsing.
  if (head.ota_signature[0] == '\0') return Result::manifest_unsigned;
  Result r = config_.server_keys->verify(head.ota_key_id, reinterpret_cast<const uint8_t*>(body_), body_len,
                                         head.ota_signature, Result::unknown_server_key,
                                         Result::manifest_signature_invalid);
  if (r != Result::ok) return r;
  r = parse_manifest(body_, body_len, m);
  if (r != Result::ok) return r;
  if (strcmp(m.board, config_.board) != 0) return Result::board_mismatch;
  if (strcmp(m.channel, config_.channel) != 0) return Result::channel_mismatch;

  char statement[kMaxStatement];
  const size_t statement_len = build_release_statement(m, statement, sizeof statement);
  if (statement_len == 0) return Result::manifest_invalid;
  r = config_.release_keys->verify(m.release_key_id, reinterpret_cast<const uint8_t*>(statement), statement_len,
                                   m.release_signature, Result::unknown_release_key,
                                   Result::release_signature_invalid);
  if (r != Result::ok) return r;

  int64_t now = 0;
  if (clock_.now_unix(now)) {
    int64_t expires = 0;
    if (!parse_iso8601_utc(m.expires_at, expires)) return Result::manifest_invalid;
    if (now >= expires) return Result::manifest_expired;
  }
  return Result::ok;
}

Result OtaClient::check(Manifest& manifest) {
  Result r = validate_config();
  if (r != Result::ok) return r;
  credentials_tried_ = false;
  prepare_credentials();
  HttpResponseHead head;
  uint32_t body_len = 0;
  r = fetch_manifest(head, body_len);
  if (r == Result::unauthorized && config_.key_store != nullptr) {
    // An expired or revoked token, or a server that requires one: one fresh try.
    url_[0] = '\0';
    if (authenticate() != Result::ok) return credentials_;
    r = fetch_manifest(head, body_len);
  }
  if (r != Result::ok) return r;
  Manifest m;
  r = verify_manifest(head, body_len, m);
  if (r != Result::ok) return r;
  decision_ = decide_update(config_.version, config_.sequence, m.version, m.sequence, m.allow_downgrade);
  manifest_ = m;
  if (&manifest != &manifest_) manifest = m;
  return Result::ok;
}

Result OtaClient::fetch_chunk(const char* url, uint32_t size, uint32_t& offset, ChunkConsumer& consumer,
                              bool& progressed) {
  const ByteRange range = plan_chunk(offset, size, config_.chunk_size);
  HttpRequest request;
  request.url = url;
  request.has_range = true;
  request.range_first = range.first;
  request.range_last = range.last;
  request.bearer_token = bearer();
  HttpResponseHead head;
  ++stats_.requests;
  if (!http_.open(request, head)) return Result::transport_error;
  last_http_status_ = head.status;
  if (head.status == kUnauthorized && config_.key_store != nullptr) {
    // The token ran out mid-download: renew it and try this chunk again.
    http_.close();
    authenticate();
    return Result::transport_error;
  }

  uint32_t length = 0;
  Result r = parse_content_length(head, UINT32_MAX, length);
  if (head.status == 206) {
    ContentRange cr;
    if (r == Result::ok) {
      if (!parse_content_range(head.content_range, cr)) {
        r = Result::bad_range;
      } else if (cr.total != size) {
        r = Result::size_mismatch;
      } else if (cr.first != offset || length != cr.last - cr.first + 1) {
        // A server that ignores where we asked to start would corrupt the image.
        r = Result::bad_range;
      }
    }
  } else if (head.status == 200 && offset == 0) {
    if (r == Result::ok && length != size) r = Result::size_mismatch;
  } else if (head.status == 416) {
    r = Result::size_mismatch;
  } else {
    r = is_transient_status(head.status) ? Result::transport_error : Result::http_status;
  }

  while (r == Result::ok && length > 0) {
    const uint32_t want = length < sizeof io_ ? length : static_cast<uint32_t>(sizeof io_);
    const int n = http_.read(io_, want);
    if (n <= 0) {
      r = Result::short_body;
      break;
    }
    r = consumer.consume(io_, static_cast<size_t>(n));
    if (r == Result::ok) {
      offset += static_cast<uint32_t>(n);
      length -= static_cast<uint32_t>(n);
      progressed = true;
    }
  }
  http_.close();
  return r;
}

Result OtaClient::download(const char* url, uint32_t size, ChunkConsumer& consumer, uint32_t& offset) {
  offset = 0;
  uint8_t failures = 0;
  while (offset < size) {
    bool progressed = false;
    const Result r = fetch_chunk(url, size, offset, consumer, progressed);
    if (r == Result::ok) {
      failures = 0;
      continue;
    }
    if (!is_transient(r)) return r;
    // Retries count consecutive attempts that brought nothing: a slow link
    // that keeps breaking but keeps moving still finishes.
    if (progressed) failures = 0;
    if (failures >= config_.max_retries) return Result::download_failed;
    ++failures;
    ++stats_.retries;
    uint32_t delay = config_.retry_delay_ms;
    for (uint8_t i = 1; i < failures && delay < kMaxRetryDelayMs; ++i) delay *= 2;
    clock_.sleep_ms(delay < kMaxRetryDelayMs ? delay : kMaxRetryDelayMs);
  }
  return Result::ok;
}

Result OtaClient::fail(const Manifest& m, Result reason, bool began) {
  if (began) flash_.abort();
  report(ReportStatus::failed, m.version, m.sequence, result_name(reason));
  return reason;
}

bool OtaClient::kept_running_digest(char out[65]) const {
  return config_.running_image != nullptr && config_.running_image->sha256(out) && is_lower_hex(out, 64);
}

bool OtaClient::wants_delta(const Manifest& m) const {
  char running[65];
  return m.delta.present && strcmp(m.delta.format, kDeltaFormat) == 0 && kept_running_digest(running);
}

// Rebuilds the image from the patch into the slot and checks it; on any
// failure the slot is aborted, so nothing half-made can boot.
Result OtaClient::install_delta(const Manifest& m) {
  RunningImage& running = *config_.running_image;
  char hex[65];
  if (!kept_running_digest(hex) || strcmp(m.delta.base_sha256, hex) != 0) return Result::delta_base_mismatch;
  // The kept digest is checked against the bytes actually in the running slot.
  const uint32_t base_size = running.size();
  uint8_t whole[32], header_digest[32];
  Result r = digest_base(running, base_size, io_, sizeof io_, whole, header_digest);
  if (r != Result::ok) return r;
  to_lower_hex(whole, sizeof whole, hex);
  if (strcmp(hex, m.delta.base_sha256) != 0) return Result::delta_base_mismatch;

  Sha256 image_sha, patch_sha;
  if (!image_sha.start() || !patch_sha.start()) return Result::crypto_error;
  if (!flash_.begin(m.size)) return Result::flash_begin_failed;
  ImageWriter image(flash_, image_sha);
  delta_patch_.begin(header_digest, running, base_size, image);
  PatchFeeder feeder(delta_patch_, image, m.size, patch_sha);
  r = download(m.delta.url, m.delta.size, feeder, stats_.patch_bytes);
  if (r == Result::ok) r = delta_patch_.finish();
  if (r == Result::ok) r = patch_sha.finish_hex(hex) ? Result::ok : Result::crypto_error;
  if (r == Result::ok && strcmp(hex, m.delta.sha256) != 0) r = Result::delta_corrupt;
  if (r == Result::ok && image.written() != m.size) r = Result::size_mismatch;
  if (r == Result::ok) r = image_sha.finish_hex(hex) ? Result::ok : Result::crypto_error;
  if (r == Result::ok && strcmp(hex, m.sha256) != 0) r = Result::sha256_mismatch;
  if (r == Result::ok && !flash_.finish()) r = Result::flash_finish_failed;
  if (r != Result::ok) flash_.abort();
  return r;
}

Result OtaClient::install_full(const Manifest& m) {
  if (!flash_.begin(m.size)) return fail(m, Result::flash_begin_failed, false);
  Sha256 sha;
  if (!sha.start()) return fail(m, Result::crypto_error, true);
  ImageWriter image(flash_, sha);
  Result r = download(m.url, m.size, image, stats_.bytes_written);
  char digest[65];
  if (r == Result::ok) r = sha.finish_hex(digest) ? Result::ok : Result::crypto_error;
  if (r == Result::ok && strcmp(digest, m.sha256) != 0) r = Result::sha256_mismatch;
  if (r != Result::ok) return fail(m, r, true);
  if (!flash_.finish()) return fail(m, Result::flash_finish_failed, true);
  return Result::ok;
}

Result OtaClient::install(const Manifest& m) {
  Result r = validate_config();
  if (r != Result::ok) return r;
  stats_ = DownloadStats();
  report(ReportStatus::downloading, m.version, m.sequence, nullptr);
  bool rebuilt = false;
  if (wants_delta(m)) {
    stats_.delta_tried = true;
    stats_.delta_result = install_delta(m);
    rebuilt = stats_.delta_result == Result::ok;
    // The server offers this patch to nobody else once enough devices say it failed.
    if (!rebuilt) report(ReportStatus::delta_failed, m.version, m.sequence, result_name(stats_.delta_result));
  }
  if (!rebuilt) {
    r = install_full(m);
    if (r != Result::ok) return r;
  }
  report(ReportStatus::downloaded, m.version, m.sequence, nullptr);
  if (!flash_.set_bootable()) return fail(m, Result::set_bootable_failed, true);
  // Not fatal: without it the next update is a full download.
  if (config_.running_image != nullptr) config_.running_image->remember_next(m.sha256);
  report(ReportStatus::installed, m.version, m.sequence, nullptr);
  return Result::ok;
}

Result OtaClient::update() {
  const Result r = check(manifest_);
  if (r != Result::ok) return r;
  if (decision_ != Decision::update) return Result::no_update;
  return install(manifest_);
}

Result OtaClient::report(ReportStatus status, const char* version, uint32_t sequence, const char* detail) {
  if (config_.server_url == nullptr || mac_[0] == '\0' || !is_version_label(version)) return Result::bad_config;
  prepare_credentials();
  url_[0] = '\0';
  if (!append_base(url_, sizeof url_, config_.server_url) || !append(url_, sizeof url_, "/v1/devices/") ||
      !append(url_, sizeof url_, mac_) || !append(url_, sizeof url_, "/reports")) {
    return Result::bad_config;
  }
  char escaped[200];
  char body[320];
  int n;
  if (detail != nullptr && detail[0] != '\0') {
    json_escape(detail, escaped, sizeof escaped);
    n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"version\":\"%s\",\"sequence\":%" PRIu32 ",\"detail\":\"%s\"}",
                 report_status_name(status), version, sequence, escaped);
  } else {
    n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"version\":\"%s\",\"sequence\":%" PRIu32 "}",
                 report_status_name(status), version, sequence);
  }
  if (n <= 0 || static_cast<size_t>(n) >= sizeof body) return Result::bad_config;

  HttpRequest request;
  request.method = HttpMethod::post;
  request.url = url_;
  request.content_type = "application/json";
  request.body = reinterpret_cast<const uint8_t*>(body);
  request.body_len = static_cast<size_t>(n);
  request.bearer_token = bearer();
  HttpResponseHead head;
  if (!http_.open(request, head)) return Result::report_failed;
  const int code = head.status;
  http_.close();
  return code >= 200 && code < 300 ? Result::ok : Result::report_failed;
}

}  // namespace ota_gate
