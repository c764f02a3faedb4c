// ota-gate client on an AI-Thinker ESP32-CAM (Arduino-ESP32 core).
//
// On boot and then every six hours: ask the server for the manifest, check
// its signature against the pinned server key and the release signature
// against the pinned release keys, and when the contract's rule says so,
// download the image in Range chunks into the next OTA slot, check its
// SHA-256, mark it bootable and reboot. After the reboot the new firmware
// reports `booted` once.
//
// The device proves who it is (docs/devices.md of ota-gate): on first boot it
// makes a P-256 key, keeps it in NVS (Preferences namespace "ota_gate"), and
// enrolls it with the batch's enrollment token; then every poll, download and
// report carries a short-lived device token, renewed by signing a challenge.
//
// Build with PlatformIO (platformio.ini beside this file) or the Arduino IDE
// (arduino-esp32 2.x or 3.x) with the partition scheme "Minimal SPIFFS (1.9MB APP with OTA)".

#include <Arduino.h>
#include <Preferences.h>
#include <WiFi.h>
#include <esp_arduino_version.h>
#include <esp_ota_ops.h>

// arduino-esp32 3.x deprecates WiFiClientSecure for NetworkClientSecure; 2.x has only the former.
#if ESP_ARDUINO_VERSION_MAJOR >= 3
#include <NetworkClientSecure.h>
using TlsClient = NetworkClientSecure;
#else
#include <WiFiClientSecure.h>
using TlsClient = WiFiClientSecure;
#endif

#include <ota_gate.h>  // the core and the Arduino adapters (ota_gate/arduino.h)

#ifndef FW_VERSION
#define FW_VERSION "dev"
#endif
#ifndef FW_SEQUENCE
#define FW_SEQUENCE 0  // hand-built: never replaced over the air
#endif

static const char* kWifiSsid = "your-ssid";
static const char* kWifiPassword = "your-password";
static const char* kServerUrl = "https://ota.example.com";

// The server's manifest key: `curl https://ota.example.com/v1/keys`, field
// server.public_key_pem. Pin the next key too before rotating it.
static const char* kServerKeys[] = {
    "-----BEGIN PUBLIC KEY-----\n"
    "REPLACE-WITH-THE-SERVER-PUBLIC-KEY\n"
    "-----END PUBLIC KEY-----\n",
};

// The offline release keys (the *.pub files that sign release statements).
// Several may be pinned, so a key can be retired without bricking the fleet.
static const char* kReleaseKeys[] = {
    "-----BEGIN PUBLIC KEY-----\n"
    "REPLACE-WITH-A-RELEASE-PUBLIC-KEY\n"
    "-----END PUBLIC KEY-----\n",
};

// The CA of the server's TLS certificate (PEM).
static const char* kServerCa =
    "-----BEGIN CERTIFICATE-----\n"
    "REPLACE-WITH-THE-CA-CERTIFICATE\n"
    "-----END CERTIFICATE-----\n";

// Baked into this batch's factory image (`ota-gate enrollment create --name batch-7`):
// the device is accepted when it first enrolls. Empty: an operator accepts it
// (`ota-gate device accept MAC`).
static const char* kEnrollmentToken = "";

static constexpr uint32_t kPollIntervalMs = 6UL * 60 * 60 * 1000;

// Everything the client needs lives in static storage: no heap use while downloading.
static ota_gate::KeyRing server_keys;
static ota_gate::KeyRing release_keys;
static TlsClient tls;
static ota_gate::arduino::ArduinoHttpTransport http(tls);
static ota_gate::arduino::ArduinoUpdateWriter flash;
static ota_gate::arduino::ArduinoClock ota_clock;
static ota_gate::arduino::PreferencesKeyStore device_key_store;
static char device_mac[18];
static uint32_t last_poll_ms = 0;

static ota_gate::OtaClient* client() {
  static ota_gate::OtaConfig config;
  config.server_url = kServerUrl;
  config.board = "esp32cam";
  config.channel = "stable";
  config.device_mac = device_mac;
  config.version = FW_VERSION;
  config.sequence = FW_SEQUENCE;
  config.server_keys = &server_keys;
  config.release_keys = &release_keys;
  config.chunk_size = 64 * 1024;  // fewer TLS handshakes; still resumable
  config.max_retries = 8;
  config.key_store = &device_key_store;
  config.enrollment_token = kEnrollmentToken;
  static ota_gate::OtaClient instance(config, http, flash, ota_clock);
  return &instance;
}

// Reports `booted` once per version: on the first start of a new image.
static void report_booted_once() {
  Preferences prefs;
  prefs.begin("ota-gate", false);
  const String reported = prefs.getString("booted", "");
  if (reported != FW_VERSION && client()->report_booted() == ota_gate::Result::ok) {
    prefs.putString("booted", FW_VERSION);
  }
  prefs.end();
  // With rollback enabled in the bootloader, keep this image now that it
  // has reached the network; otherwise the bootloader restores the old one.
  esp_ota_mark_app_valid_cancel_rollback();
}

static void poll_server() {
  const ota_gate::Result r = client()->update();
  Serial.printf("ota-gate: %s (%s)\n", ota_gate::result_name(r), ota_gate::decision_name(client()->decision()));
  if (r == ota_gate::Result::ok) {
    Serial.println("ota-gate: new image is bootable, restarting");
    delay(500);
    ESP.restart();
  }
}

void setup() {
  Serial.begin(115200);
  for (const char* pem : kServerKeys) {
    if (!server_keys.add_pem(pem)) Serial.println("ota-gate: a pinned server key does not parse");
  }
  for (const char* pem : kReleaseKeys) {
    if (!release_keys.add_pem(pem)) Serial.println("ota-gate: a pinned release key does not parse");
  }
  tls.setCACert(kServerCa);

  WiFi.mode(WIFI_STA);
  WiFi.begin(kWifiSsid, kWifiPassword);
  while (WiFi.status() != WL_CONNECTED) delay(250);
  snprintf(device_mac, sizeof device_mac, "%s", WiFi.macAddress().c_str());

  // Manifest expiry is checked only once the clock is real.
  configTime(0, 0, "pool.ntp.org", "time.google.com");
  for (int i = 0; i < 40 && time(nullptr) < 1704067200; ++i) delay(250);

  report_booted_once();
  poll_server();
  last_poll_ms = millis();
}

void loop() {
  if (millis() - last_poll_ms >= kPollIntervalMs) {
    last_poll_ms = millis();
    poll_server();
  }
  delay(1000);
}
