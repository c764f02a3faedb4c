// Everything a firmware needs from ota-gate's client core.
#pragma once

#include "ota_gate/chunk_plan.h"
#include "ota_gate/decision.h"
#include "ota_gate/device_key.h"
#include "ota_gate/http_fields.h"
#include "ota_gate/identifiers.h"
#include "ota_gate/interfaces.h"
#include "ota_gate/iso8601.h"
#include "ota_gate/key_ring.h"
#include "ota_gate/manifest.h"
#include "ota_gate/ota_client.h"
#include "ota_gate/release_statement.h"
#include "ota_gate/result.h"
#include "ota_gate/sha256.h"
#include "ota_gate/wall_clock.h"
