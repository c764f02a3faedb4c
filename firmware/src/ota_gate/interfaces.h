// The seams between the portable core and a platform: an HTTP transport,
// the flash slot being written, the clock, and (for delta updates) the
// running image. Each platform (host, ESP-IDF, Arduino) provides one small
// class per seam.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ota_gate {

enum class HttpMethod : uint8_t { get, post };

struct HttpRequest {
  HttpMethod method = HttpMethod::get;
  const char* url = nullptr;         // absolute, http:// or https://
  bool has_range = false;            // send `Range: bytes=range_first-range_last`
  uint32_t range_first = 0;
  uint32_t range_last = 0;
  const char* content_type = nullptr;  // for a body
  const uint8_t* body = nullptr;
  size_t body_len = 0;
  const char* bearer_token = nullptr;  // send `Authorization: Bearer <token>` when set
};

// The response headers the core reads, kept as raw text in fixed buffers so
// the core (not each adapter) decides what a valid value is. Adapters call
// capture() for every header they receive.
struct HttpResponseHead {
  int status = 0;
  bool has_content_length = false;
  char content_length[24] = {};
  char content_range[64] = {};
  char ota_signature[160] = {};
  char ota_key_id[32] = {};
  // Set when a wanted header did not fit its buffer or was repeated with a
  // different value: the core refuses such a response.
  bool malformed = false;

  void reset();
  void capture(const char* name, const char* value);
  void capture(const char* name, size_t name_len, const char* value, size_t value_len);
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends the request and reads the status line and headers into `head`.
  // Returns false when no response head was received; then close() is not needed.
  virtual bool open(const HttpRequest& request, HttpResponseHead& head) = 0;
  // Reads body bytes: > 0 bytes read, 0 the peer closed, < 0 an error or timeout.
  virtual int read(uint8_t* buffer, size_t capacity) = 0;
  // Ends the exchange; the core never reads past Content-Length.
  virtual void close() = 0;
};

// The OTA slot. Calls come in the order begin, write..., then finish and
// set_bootable, or abort at any point after begin. Only set_bootable may
// make the new image the one that boots next.
class FlashWriter {
 public:
  virtual ~FlashWriter() = default;
  virtual bool begin(uint32_t image_size) = 0;
  virtual bool write(const uint8_t* data, size_t len) = 0;  // sequential
  virtual bool finish() = 0;     // all bytes written; platform checks run here
  virtual void abort() = 0;      // leave the slot unbootable
  virtual bool set_bootable() = 0;
};

// Reads an image at any offset: the base a delta patch is applied to.
class ImageReader {
 public:
  virtual ~ImageReader() = default;
  // Exactly `len` bytes from `offset`; false on an I/O error or past the end.
  virtual bool read(uint32_t offset, uint8_t* out, size_t len) = 0;
};

// Receives an image being rebuilt, in order.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual bool write(const uint8_t* data, size_t len) = 0;
};

// The image the device runs, for delta updates: its bytes (the running
// partition) and the digest the device keeps of it. A platform without it
// leaves OtaConfig::running_image null and always downloads full images.
class RunningImage : public ImageReader {
 public:
  // The running image's length in bytes (the image, not the partition).
  virtual uint32_t size() = 0;
  // The whole image's SHA-256 (64 lowercase hex) as kept from the update
  // that installed it; false when unknown (then no delta is asked for).
  virtual bool sha256(char out[65]) = 0;
  // Called once a new image is bootable: keep its SHA-256 for the slot that
  // boots next, so that image can ask for deltas in turn.
  virtual bool remember_next(const char* sha256_hex) = 0;
};

// Where the device keeps its private key across reboots and updates (NVS on
// an ESP32, a file on the host). The bytes are opaque to the store.
class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // Reads the stored key into buf; false when none is stored (or it does not fit).
  virtual bool load(uint8_t* buf, size_t capacity, size_t& len) = 0;
  // Replaces the stored key; true only once it is durable.
  virtual bool save(const uint8_t* data, size_t len) = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch, or false when the device has no trusted
  // time yet (no SNTP sync): expiry is then not checked.
  virtual bool now_unix(int64_t& seconds) = 0;
  virtual void sleep_ms(uint32_t ms) = 0;
};

}  // namespace ota_gate
