// The client's version: the one the three package manifests (library.json,
// library.properties, idf_component.yml) carry, checked against them by
// test/check_packaging.mjs, and the one every User-Agent names.
#pragma once

#define OTA_GATE_CLIENT_VERSION "1.0.0"
#define OTA_GATE_USER_AGENT "ota-gate-client/" OTA_GATE_CLIENT_VERSION
