// The server settings tests start from, each named for what it is for (test/support/server.ts
// already turns load shedding off by event-loop delay and utilisation for every test app).

/**
 * A server that a simulated fleet polls from the same process: the fleet comes from one loopback
 * address (no per-address limit), and the test's own work on the shared event loop must not be
 * mistaken for overload.
 */
export const FLEET_ENV: Readonly<Record<string, string>> = {
  OTA_DEVICE_RATE_LIMIT: '0',
  OTA_OVERLOAD_EVENT_LOOP_UTILIZATION: '0',
  OTA_OVERLOAD_EVENT_LOOP_DELAY_MS: '0',
}

/**
 * FLEET_ENV with device credentials off: every device is taken at its word, as before credentials
 * existed. For tests of what the fleet's reports do (auto-halt, adoption) with simulated devices
 * that do not enroll; test/device-trust.test.ts covers the same with enrolled devices.
 */
export const UNPROVEN_FLEET_ENV: Readonly<Record<string, string>> = { ...FLEET_ENV, OTA_DEVICE_AUTH: 'off' }

/**
 * Tests that measure downloads: load shedding (503 when the event loop lags or the heap grows) and
 * the device rate limit have their own tests, and here would only make results depend on how busy
 * the machine is.
 */
export const STEADY_ENV: Readonly<Record<string, string>> = {
  ...FLEET_ENV,
  OTA_OVERLOAD_HEAP_BYTES: '0',
}

/**
 * For tests that are not about delta updates and publish several releases on one server: no patch
 * is built ahead of demand (OTA_DELTA_BASES=0). A build starts a worker thread that loads the
 * server's modules again, then builds: about 1.4 s of CPU for each server that builds one (measured
 * under tsx; 5 s under ts-node). test/delta-*.test.ts cover the builds.
 */
export const NO_AHEAD_DELTAS: Readonly<Record<string, string>> = { OTA_DELTA_BASES: '0' }

/** FLEET_ENV for tests that are not about delta updates (NO_AHEAD_DELTAS). */
export const FLEET_NO_DELTAS_ENV: Readonly<Record<string, string>> = { ...FLEET_ENV, ...NO_AHEAD_DELTAS }

/** UNPROVEN_FLEET_ENV for tests that are not about delta updates (NO_AHEAD_DELTAS). */
export const UNPROVEN_FLEET_NO_DELTAS_ENV: Readonly<Record<string, string>> = { ...UNPROVEN_FLEET_ENV, ...NO_AHEAD_DELTAS }
