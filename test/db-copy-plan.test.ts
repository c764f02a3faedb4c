import t from 'tap'
import { contentTables, planCopy, referenceOrder } from '../src/ops/db-copy/copy-plan'

// What db copy carries over, decided from the two schemas: tables after those they refer to, a
// schema that lags refused, seeded and derived tables told apart.

const table = (name: string, columns: string[], identity?: string) => ({ name, columns, primaryKey: [columns[0]], ...(identity ? { identity } : {}) })

t.test('tables come after the tables they refer to; a cycle is refused', async (t) => {
  const keys = [
    { table: 'releases', references: 'boards' },
    { table: 'devices', references: 'releases' },
    { table: 'device_history', references: 'devices' },
    { table: 'audit_log', references: 'audit_log' },
  ]
  t.same(referenceOrder(['device_history', 'devices', 'releases', 'boards', 'audit_log'], keys), ['audit_log', 'boards', 'releases', 'devices', 'device_history'])
  t.throws(() => referenceOrder(['a', 'b'], [{ table: 'a', references: 'b' }, { table: 'b', references: 'a' }]), /refer to each other in a cycle/)
})

t.test('a source table or column the target lacks is refused, naming each', async (t) => {
  const target = [table('devices', ['device', 'version']), table('schema_migrations', ['version'])]
  t.throws(
    () => planCopy([{ name: 'devices', columns: ['device', 'version', 'colour'] }, { name: 'gadgets', columns: ['id'] }], target, []),
    /devices lacks column colour; table gadgets has no counterpart\): use the ota-gate version/
  )
})

t.test('the plan: every source table but the migration records, seeded ones cleared first, derived ones compared, identities continued', async (t) => {
  const source = [
    { name: 'schema_migrations', columns: ['version'] },
    { name: 'boards', columns: ['name'] },
    { name: 'tokens', columns: ['id', 'name'] },
    { name: 'fleet_versions', columns: ['board', 'devices'] },
  ]
  const target = [table('schema_migrations', ['version']), table('boards', ['name']), table('tokens', ['id', 'name', 'extra'], 'id'), table('fleet_versions', ['board', 'devices']), table('artifact_blobs', ['sha256'])]
  t.same(planCopy(source, target, []), {
    copies: [
      { table: 'boards', columns: ['name'], seeded: true },
      { table: 'tokens', columns: ['id', 'name'], seeded: false, identity: 'id' },
    ],
    derived: [{ table: 'fleet_versions', columns: ['board', 'devices'] }],
  })
  t.same(contentTables(target), [
    { table: 'boards', allowed: 1 },
    { table: 'tokens', allowed: 0 },
  ], 'the binaries of an earlier run, the migration records and derived counts do not make a target "not empty"')
})
