// Test group: rollouts on one instance and several.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../rollout-percent.test'
import '../rollout-halt.test'
import '../rollout-pin.test'
import '../rollout-rollback.test'
import '../rollout-publish.test'
import '../rollout-audit.test'
import '../rollout-halt-instances.test'
import '../rollout-instances.test'
import '../several-instances.test'
import '../instance-caches.test'
