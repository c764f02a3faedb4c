// Signature stand-in for ESP-IDF's esp_partition.h. See ../README.md.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t address;
  uint32_t size;
  char label[17];
} esp_partition_t;

esp_err_t esp_partition_read(const esp_partition_t* partition, size_t src_offset, void* dst, size_t size);

#ifdef __cplusplus
}
#endif
