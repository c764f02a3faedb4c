// Signature stand-in for ESP-IDF's esp_crt_bundle.h. See ../README.md.
#pragma once

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

esp_err_t esp_crt_bundle_attach(void* conf);

#ifdef __cplusplus
}
#endif
