// Test group: what devices send: hostile input, numbers, raw answers, device routes.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../hostile-input.test'
import '../numbers.test'
import '../raw-answers.test'
import '../device-routes.test'
import '../request-logger.test'
import '../range.test'
