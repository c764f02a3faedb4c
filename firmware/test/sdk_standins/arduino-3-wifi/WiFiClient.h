// Signature stand-in for arduino-esp32 3.x's WiFi library WiFiClient.h: only
// an alias kept for old sketches. See ../README.md.
#pragma once

#include "Network.h"

typedef NetworkClient WiFiClient;
