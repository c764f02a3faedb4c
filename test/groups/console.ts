// Test group: the operator console in Chromium and its API.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../console.test'
import '../console-api.test'
