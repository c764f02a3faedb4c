// Test group: deployment, the README walkthrough, docs, start-up and the code's own shape.
// These files run in one tap process, one after another (README, Tests: test groups).
import '../deploy.test'
import '../readme-walkthrough.test'
import '../docs.test'
import '../cli-help.test'
import '../import-graph.test'
import '../bench-parsers.test'
import '../start-failure.test'
import '../test-groups.test'
