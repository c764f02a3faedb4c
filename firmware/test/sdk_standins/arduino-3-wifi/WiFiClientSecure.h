// Signature stand-in for arduino-esp32 3.x's WiFiClientSecure.h, deprecated
// in favour of NetworkClientSecure. See ../README.md.
#pragma once
#warning WiFiClientSecure has been deprecated, please use NetworkClientSecure instead.
#include "NetworkClientSecure.h"
#define WiFiClientSecure NetworkClientSecure
