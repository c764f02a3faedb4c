// Signature stand-in for arduino-esp32 3.x's WiFi library WiFiClient.h: only
// an alias of NetworkClient kept for old sketches (a typedef from 3.0.2).
// See ../README.md.
#pragma once

#include "Network.h"

typedef NetworkClient WiFiClient;
