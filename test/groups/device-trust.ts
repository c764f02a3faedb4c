// Test group: who a device is: trust, enrollment, roles, manifests and the Arduino route.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../device-trust.test'
import '../device-enrollment.test'
import '../enrolled-devices.test'
import '../adoption.test'
import '../roles.test'
import '../artifact-access.test'
import '../cli-keys-boards.test'
import '../manifest.test'
import '../arduino.test'
