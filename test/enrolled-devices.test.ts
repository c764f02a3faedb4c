import crypto from 'node:crypto'
import t from 'tap'
import { openDatabase } from '../src/db/open'
import { EnrolledDevices, KEYS_CHECK_MS } from '../src/fleet/enrolled-devices'
import { createRepositories } from '../src/repositories'
import type { DeviceKeyState } from '../src/repositories/device-credentials'
import { TestClock } from './support/clock'
import { openRepositories } from './support/repositories'
import type { TestContext } from './support/server'

const DEVICE = 'a4cf12000001'

/** A second instance on the same data folder: its own connection and repositories. */
function secondInstance(t: TestContext, dataDir: string, clock: TestClock) {
  const db = openDatabase(dataDir)
  const repos = createRepositories(db, clock)
  t.teardown(() => {
    repos.devices.close()
    db.close()
  })
  return repos
}

t.test("a device's accepted key is held in memory, and a decision made by another instance is known within KEYS_CHECK_MS", async (t) => {
  const clock = new TestClock()
  const here = openRepositories(t, clock)
  const elsewhere = secondInstance(t, here.dataDir, clock)
  const enrolled = new EnrolledDevices(here.repos.credentials, clock)
  const key = { device: DEVICE, key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: '10.0.0.9', requested_at: clock.now() }
  const decide = (state: DeviceKeyState) =>
    elsewhere.credentials.decide({
      device: DEVICE, key_id: key.key_id, state, decided_by: 'ops', at: clock.now(),
      audit: { actor: 'ops', action: state === 'accepted' ? 'device_accept' : 'device_revoke', board: null, channel: null, version: null, device: DEVICE, reason: null, details: {} },
    })

  t.equal(await enrolled.hasAcceptedKey(DEVICE), false, 'not enrolled')
  await elsewhere.credentials.request(key)
  await decide('accepted')
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false, 'the answer held is kept within the interval')
  clock.advance(KEYS_CHECK_MS)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true, 'after the interval the key generation moved: the acceptance is seen')

  await decide('revoked')
  clock.advance(KEYS_CHECK_MS - 1)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true, 'still held just before the interval ends')
  clock.advance(1)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false, 'the revocation is seen once the interval ends')

  // A pending enrollment elsewhere moves the generation too; the answer read again stays right.
  await elsewhere.credentials.request({ ...key, key_id: crypto.randomBytes(8).toString('hex') })
  clock.advance(KEYS_CHECK_MS)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false, 'a pending key is no accepted key')
})

t.test('a decision made in this process is seen at once (changed)', async (t) => {
  const clock = new TestClock()
  const { repos } = openRepositories(t, clock)
  const enrolled = new EnrolledDevices(repos.credentials, clock)
  const key = { device: DEVICE, key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: null, requested_at: clock.now() }
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false)
  await repos.credentials.request(key, {
    decision: {
      device: DEVICE, key_id: key.key_id, state: 'accepted', decided_by: 'allow-list', at: clock.now(),
      audit: { actor: 'allow-list', action: 'device_accept', board: null, channel: null, version: null, device: DEVICE, reason: null, details: {} },
    },
  })
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false, 'held until told')
  enrolled.changed()
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true, 'read afresh once told')
})

t.test('a decision made in this process moves only its device; the others are held as they were', async (t) => {
  const clock = new TestClock()
  const here = openRepositories(t, clock)
  const elsewhere = secondInstance(t, here.dataDir, clock)
  const enrolled = new EnrolledDevices(here.repos.credentials, clock)
  const OTHER = 'a4cf12000009'
  const keyOf = (device: string) => ({ device, key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: null, requested_at: clock.now() })
  const decision = (device: string, key_id: string, state: DeviceKeyState) => ({
    device, key_id, state, decided_by: 'ops', at: clock.now(),
    audit: { actor: 'ops', action: state === 'accepted' ? 'device_accept' as const : 'device_revoke' as const, board: null, channel: null, version: null, device, reason: null, details: {} },
  })
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false)
  // Accepted through another instance: not known here until the next generation check.
  const other = keyOf(OTHER)
  await elsewhere.credentials.request(other, { decision: decision(OTHER, other.key_id, 'accepted') })
  const key = keyOf(DEVICE)
  await here.repos.credentials.request(key, { decision: decision(DEVICE, key.key_id, 'accepted') })
  await enrolled.decided(DEVICE)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true, 'the device decided here is known at once')
  t.equal(await enrolled.hasAcceptedKey(OTHER), false, 'the other devices are held, not read again')
  clock.advance(KEYS_CHECK_MS)
  t.equal(await enrolled.hasAcceptedKey(OTHER), true, 'a decision elsewhere is still known within KEYS_CHECK_MS')

  await here.repos.credentials.decide(decision(DEVICE, key.key_id, 'revoked'))
  await enrolled.decided(DEVICE)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false, 'a revocation decided here is known at once')
  t.equal(await enrolled.hasAcceptedKey(OTHER), true, 'the other device stays accepted')
})

t.test("the key generation moved by this instance's decisions alone does not have every accepted device read again", async (t) => {
  const clock = new TestClock()
  const here = openRepositories(t, clock)
  const elsewhere = secondInstance(t, here.dataDir, clock)
  // The real repository, with the whole-set reads counted.
  let reads = 0
  const credentials = here.repos.credentials
  const source = {
    acceptedKey: (device: string) => credentials.acceptedKey(device),
    keysGeneration: () => credentials.keysGeneration(),
    keyMovesHere: () => credentials.keyMovesHere(),
    acceptedDevices: (limit: number) => {
      reads++
      return credentials.acceptedDevices(limit)
    },
  }
  const enrolled = new EnrolledDevices(source, clock)
  const accept = async (repos: typeof here.repos, device: string) => {
    const key = { device, key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: null, requested_at: clock.now() }
    await repos.credentials.request(key, {
      decision: {
        device, key_id: key.key_id, state: 'accepted', decided_by: 'ops', at: clock.now(),
        audit: { actor: 'ops', action: 'device_accept', board: null, channel: null, version: null, device, reason: null, details: {} },
      },
    })
  }
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false)
  t.equal(reads, 1, 'read once')
  await accept(here.repos, DEVICE)
  await enrolled.decided(DEVICE)
  // A pending request made here moves the generation too, and changes no accepted key.
  await here.repos.credentials.request({ device: 'a4cf12000004', key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: null, requested_at: clock.now() })
  clock.advance(KEYS_CHECK_MS)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true)
  t.equal(reads, 1, 'the generation moved by decisions made here: not read again')

  await accept(elsewhere, 'a4cf12000005')
  await accept(here.repos, 'a4cf12000006')
  await enrolled.decided('a4cf12000006')
  clock.advance(KEYS_CHECK_MS)
  t.equal(await enrolled.hasAcceptedKey('a4cf12000005'), true, 'a decision elsewhere among them: read again')
  t.equal(reads, 2)
  t.equal(await enrolled.hasAcceptedKey('a4cf12000006'), true)
})

t.test('a device decided here beyond the devices held: every question goes to the database again', async (t) => {
  const clock = new TestClock()
  const { repos } = openRepositories(t, clock)
  const enrolled = new EnrolledDevices(repos.credentials, clock, 1)
  const accept = async (device: string) => {
    const key = { device, key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: null, requested_at: clock.now() }
    await repos.credentials.request(key, {
      decision: {
        device, key_id: key.key_id, state: 'accepted', decided_by: 'allow-list', at: clock.now(),
        audit: { actor: 'allow-list', action: 'device_accept', board: null, channel: null, version: null, device, reason: null, details: {} },
      },
    })
    await enrolled.decided(device)
  }
  await accept('a4cf12000002')
  t.equal(await enrolled.hasAcceptedKey('a4cf12000002'), true, 'held: one device, within the limit')
  await accept(DEVICE)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true, 'past the limit: read from the database')
  t.equal(await enrolled.hasAcceptedKey('a4cf12000002'), true)
})

t.test('beyond the devices it holds, each question goes to the database', async (t) => {
  const clock = new TestClock()
  const { repos } = openRepositories(t, clock)
  const enrolled = new EnrolledDevices(repos.credentials, clock, 1)
  const accept = (device: string) => {
    const key = { device, key_id: crypto.randomBytes(8).toString('hex'), public_key: crypto.randomBytes(91), board: 'esp32cam', address: null, requested_at: clock.now() }
    return repos.credentials.request(key, {
      decision: {
        device, key_id: key.key_id, state: 'accepted', decided_by: 'allow-list', at: clock.now(),
        audit: { actor: 'allow-list', action: 'device_accept', board: null, channel: null, version: null, device, reason: null, details: {} },
      },
    })
  }
  await accept('a4cf12000002')
  await accept('a4cf12000003')
  t.equal(await enrolled.hasAcceptedKey('a4cf12000002'), true)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), false)
  await accept(DEVICE)
  t.equal(await enrolled.hasAcceptedKey(DEVICE), true, 'read from the database at once: nothing is held')
})
