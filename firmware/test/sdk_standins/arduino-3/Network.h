// Signature stand-in for arduino-esp32 3.x's Network.h. See ../README.md.
#pragma once

#include "NetworkClient.h"
