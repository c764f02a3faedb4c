// Test group: downloads, artifacts and delta updates.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../download.test'
import '../download-base.test'
import '../artifacts.test'
import '../artifact-cache.test'
import '../delta-fallback.test'
import '../delta-server.test'
import '../delta-bases.test'
import '../delta-format.test'
import '../delta-manifest.test'
