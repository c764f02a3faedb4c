// The client core and the ESP-IDF (4.4 and 5.x) adapters.
#pragma once

#include "ota_gate/client.h"
#include "ota_gate/esp_idf/clock.h"
#include "ota_gate/esp_idf/http_transport.h"
#include "ota_gate/esp_idf/nvs_key_store.h"
#include "ota_gate/esp_idf/ota_writer.h"
#include "ota_gate/esp_idf/running_image.h"
