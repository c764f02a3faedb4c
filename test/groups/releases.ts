// Test group: publishing: the release tool, provenance, ESP32 images, first flash.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../release-tool.test'
import '../provenance.test'
import '../releases.test'
import '../release-fixtures.test'
import '../release-statement.test'
import '../release-repositories.test'
import '../esp-image.test'
import '../esp-image-fixtures.test'
import '../factory-image.test'
import '../first-flash.test'
