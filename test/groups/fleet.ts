// Test group: check-ins and the fleet: durability, batches, legacy polls, the cut-over.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../checkin-durability.test'
import '../checkins.test'
import '../checkin-batches.test'
import '../fleet.test'
import '../fleet-legacy.test'
import '../cli-fleet.test'
import '../legacy.test'
import '../cutover.test'
