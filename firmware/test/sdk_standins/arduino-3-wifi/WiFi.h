// Signature stand-in for arduino-esp32 3.x's WiFi.h (the calls the example makes). See ../README.md.
#pragma once

#include "Arduino.h"
#include "Network.h"
#include "WiFiClient.h"

typedef enum { WIFI_MODE_NULL = 0, WIFI_MODE_STA, WIFI_MODE_AP, WIFI_MODE_APSTA } wifi_mode_t;
#define WIFI_STA WIFI_MODE_STA
typedef enum { WL_IDLE_STATUS = 0, WL_CONNECTED = 3, WL_DISCONNECTED = 6 } wl_status_t;

class WiFiClass {
 public:
  bool mode(wifi_mode_t m);
  wl_status_t begin(const char* ssid, const char* passphrase = NULL, int32_t channel = 0, const uint8_t* bssid = NULL,
                    bool connect = true);
  wl_status_t status();
  String macAddress();
};
extern WiFiClass WiFi;
