// The client core and the Arduino-ESP32 (2.x and 3.x) adapters.
#pragma once

#include "ota_gate/arduino/clock.h"
#include "ota_gate/arduino/http_transport.h"
#include "ota_gate/arduino/preferences_key_store.h"
#include "ota_gate/arduino/update_writer.h"
#include "ota_gate/client.h"
