// A sketch's one include in the Arduino IDE: the core and the Arduino adapters.
// It sits at the top of src/ because the IDE picks a library by the headers
// there and nowhere deeper, so `#include <ota_gate/arduino.h>` alone would
// not find this library. Everything else lives under ota_gate/.
#pragma once

#include "ota_gate/arduino.h"
