// Signature stand-in for arduino-esp32 3.0.0/3.0.1's WiFiClientSecure.h, which
// warns that it is deprecated for NetworkClientSecure and #defines the alias
// (3.0.2 made the aliases typedefs). See ../README.md.
#pragma once
#warning WiFiClientSecure has been deprecated, please use NetworkClientSecure instead.
#include "NetworkClientSecure.h"
#define WiFiClientSecure NetworkClientSecure
