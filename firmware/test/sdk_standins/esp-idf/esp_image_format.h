// Signature stand-in for ESP-IDF's bootloader_support esp_image_format.h. See ../README.md.
#pragma once

#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t offset;
  uint32_t size;
} esp_partition_pos_t;

typedef struct {
  uint32_t start_addr;
  uint32_t image_len;
} esp_image_metadata_t;

esp_err_t esp_image_get_metadata(const esp_partition_pos_t* part, esp_image_metadata_t* metadata);

#ifdef __cplusplus
}
#endif
