// Test group: the server under strain: shutdown, overload, timeouts, metrics.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../shutdown.test'
import '../overload.test'
import '../timeouts.test'
import '../metrics.test'
