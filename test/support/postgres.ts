import tap from 'tap'
import { postgresUnavailable, startPostgresCluster, type PostgresCluster } from './postgres-cluster'

export { postgresBinDir, postgresUnavailable, type PostgresCluster } from './postgres-cluster'

/** A tap test: a skipped subtest carries the reason into the report. */
export interface Skippable {
  skip(name: string, cb: () => void): unknown
}

let shared: Promise<PostgresCluster> | undefined

/**
 * The test file's cluster, started on first use and stopped at the end of the file. Returns
 * undefined (after marking `t` skipped with the reason) where PostgreSQL cannot run.
 */
export async function postgres(t: Skippable): Promise<PostgresCluster | undefined> {
  const reason = postgresUnavailable()
  if (reason) {
    t.skip(`PostgreSQL tests skipped: ${reason}`, () => undefined)
    return undefined
  }
  shared ??= startPostgresCluster().then((cluster) => {
    // stopped and removed when the test file ends
    tap.teardown(() => cluster.remove())
    return cluster
  })
  return shared
}

