import t, { type Test } from 'tap'
import type { BrowserContext } from 'playwright-core'
import { chromiumMissing, launchChromium, type InPage, openPage, screenshot, show, signIn, unlabelledControls, WIDTHS, type WatchedPage } from './support/browser'
import { deviceId, poll, report } from './support/devices'
import { publishRelease } from './support/publish'
import { operatorToken } from './support/rollouts'
import { openDatabase } from '../src/db/open'
import { createRepositories } from '../src/repositories'
import { systemClock } from '../src/clock'
import { createToken, startServer, tempDir, type RunningServer } from './support/server'
import { call, getJson } from './support/http'
import { FLEET_ENV, UNPROVEN_FLEET_NO_DELTAS_ENV } from './support/env'

const XSS = '<img src=x onerror=alert(1)>'

let context: BrowserContext
t.before(async () => {
  if (!chromiumMissing) context = await launchChromium(t)
})

/** No console error, uncaught exception, CSP violation or dialog happened in the page. */
function quiet(t: Test, w: WatchedPage): void {
  t.same(w.problems, [], `no console error in the page at ${w.width} px`)
  t.same(w.dialogs, [], `no dialog opened at ${w.width} px`)
}

interface Seeded {
  server: RunningServer
  operator: string
  releaser: string
}

/**
 * A fleet of esp32cam devices polling for real: 7 on v1 and 5 on v2 on stable (v2 the current
 * release, at 50%), 3 on v1 on beta; one stable device that took v2 and came back to v1 without a
 * word (a silent rollback); one device whose user agent and report detail are markup. The devices
 * do not enroll, so device credentials are off: their word counts in the release funnel.
 */
async function seededFleet(t: Test): Promise<Seeded> {
  const server = await startServer(t, UNPROVEN_FLEET_NO_DELTAS_ENV)
  const operator = await operatorToken(server, 'ops-alice')
  const releaser = await createToken(server.dataDir, 'releaser', 'ci')
  await publishRelease(server, { version: 'v1', sequence: 1 })
  await publishRelease(server, { version: 'v2', sequence: 2, rolloutPercent: 50 })
  for (let i = 0; i < 7; i++) await poll(server, { device: deviceId(i), version: 'v1', sequence: 1 })
  for (let i = 7; i < 12; i++) await poll(server, { device: deviceId(i), version: 'v2', sequence: 2 })
  for (let i = 12; i < 15; i++) await poll(server, { device: deviceId(i), channel: 'beta', version: 'v1', sequence: 1 })
  // Device 0 took v2 and is back on v1: a silent rollback of v2.
  await report(server, deviceId(0), { status: 'downloaded', version: 'v2', sequence: 2 })
  await poll(server, { device: deviceId(0), version: 'v1', sequence: 1 })
  // Device 6 sends markup where free text is accepted: its user agent and a report's detail.
  const q = new URLSearchParams({ board: 'esp32cam', device: deviceId(6), version: 'v1', sequence: '1' })
  await (await fetch(`${server.url}/v1/manifest?${q}`, { headers: { 'user-agent': XSS } })).arrayBuffer()
  t.equal((await report(server, deviceId(6), { status: 'failed', version: 'v2', sequence: 2, detail: XSS })).status, 202)
  return { server, operator, releaser }
}

t.test('the console in Chromium', { skip: chromiumMissing }, async (t) => {
  const { server, operator, releaser } = await seededFleet(t)

  t.test('a releaser token is refused with the role it needs, and kept nowhere', async (t) => {
    const w = await openPage(t, context)
    await w.page.goto(`${server.url}/console/`)
    await w.page.getByLabel('Operator or admin token').fill(releaser)
    await w.page.getByRole('button', { name: 'Sign in' }).click()
    const alert = w.page.getByRole('alert')
    await alert.waitFor()
    t.match(await alert.textContent(), /needs a token of role operator or admin; the token "ci" has role releaser/)
    t.equal(await w.page.locator('#nav').isVisible(), false, 'no section is shown')
    t.equal(await w.page.evaluate<number>('sessionStorage.length'), 0, 'the token is not kept')
    await screenshot(w, 'signin-refused')
    quiet(t, w)
  })

  t.test('sign in from the keyboard alone', async (t) => {
    const w = await openPage(t, context, WIDTHS[1])
    await w.page.goto(`${server.url}/console/`)
    t.same(await unlabelledControls(w), [], 'the token field has a label')
    for (let tabs = 0; tabs < 5 && (await w.page.evaluate<string>('document.activeElement.id')) !== 'token'; tabs++) await w.page.keyboard.press('Tab')
    t.equal(await w.page.evaluate<string>('document.activeElement.id'), 'token', 'Tab reaches the token field')
    await w.page.keyboard.type(operator)
    await w.page.keyboard.press('Enter')
    await w.page.locator('#nav').waitFor({ state: 'visible' })
    await w.page.waitForFunction(() => (globalThis as unknown as InPage).document.getElementById('main')?.getAttribute('aria-busy') === 'false')
    t.equal(await w.page.evaluate<string>('document.activeElement.id'), 'main', 'the page content has the focus')
    await w.page.keyboard.press('Shift+Tab')
    t.equal(await w.page.evaluate<string>('document.activeElement.textContent'), 'Sign out', 'Shift+Tab reaches the header')
    await w.page.keyboard.press('Shift+Tab')
    t.equal(await w.page.evaluate<string>('document.activeElement.textContent'), 'Audit log', 'and the sections')
    await w.page.keyboard.press('Enter')
    await w.page.getByRole('heading', { name: 'Audit log' }).waitFor()
    await screenshot(w, 'signin-keyboard')
    quiet(t, w)
  })

  t.test('sign in, the fleet chart shows the seeded counts, sign out forgets the token', async (t) => {
    for (const width of WIDTHS) {
      const w = await openPage(t, context, width)
      await signIn(w, server.url, operator)
      t.match(await w.page.locator('#who').textContent(), 'ops-alice (operator)')
      const stable = w.page.locator('[data-channel="esp32cam / stable"]')
      await stable.locator('svg.chart').waitFor()
      t.equal(await stable.locator('g.row[data-key="v1"]').getAttribute('data-count'), '7', 'v1: 7 devices on stable')
      t.equal(await stable.locator('g.row[data-key="v2"]').getAttribute('data-count'), '5', 'v2: 5 devices on stable')
      t.match(await stable.locator('g.row[data-key="v2"] text.value').textContent(), /^5\s*current release$/, 'the current release is marked')
      t.match(await stable.locator('g.row[data-key="v1"] text.value').textContent(), /^7$/)
      t.equal(await w.page.locator('[data-channel="esp32cam / beta"] g.row[data-key="v1"]').getAttribute('data-count'), '3')
      t.match(await stable.textContent(), /12, of which 0 stale/)
      t.equal(await stable.locator('[data-silent]').getAttribute('data-silent'), '1', 'the silent rollback of v2 is counted')
      t.match(await w.page.locator('.card').first().textContent(), /^15\s*Devices/)
      await screenshot(w, 'fleet')
      t.notOk(w.requests.some((u) => u.includes(operator)), 'the token is in no URL the page requested')
      t.notMatch(w.page.url(), operator)

      await w.page.getByRole('button', { name: 'Sign out' }).click()
      await w.page.getByLabel('Operator or admin token').waitFor()
      t.equal(await w.page.evaluate<number>('sessionStorage.length'), 0, 'sign-out forgets the token')
      await w.page.reload()
      await w.page.getByLabel('Operator or admin token').waitFor()
      t.equal(await w.page.locator('#nav').isVisible(), false, 'after a reload the console asks again')
      quiet(t, w)
    }
  })

  t.test('a device that sends markup shows it as text and runs nothing', async (t) => {
    for (const width of WIDTHS) {
      const w = await openPage(t, context, width)
      await signIn(w, server.url, operator)
      await show(w, `#/device/${deviceId(6)}`, 'td.text')
      const detail = w.page.locator('td.text', { hasText: 'onerror' }).first()
      t.equal(await detail.textContent(), XSS, 'the report detail is shown as the text sent')
      t.match(await w.page.locator('dl.facts').first().textContent(), XSS, 'the user agent too')
      t.equal(await w.page.locator('main img').count(), 0, 'no img element was made')
      await screenshot(w, 'device')
      await show(w, `#/devices?prefix=${deviceId(6)}`, 'tbody tr')
      t.equal(await w.page.locator('main img').count(), 0)
      if (width === WIDTHS[0]) t.match(await w.page.locator('tbody').textContent(), XSS, 'the devices list shows the user agent as text')
      // Give an injected handler the time to fire.
      await w.page.waitForTimeout(300)
      t.notOk(w.requests.some((u) => u.endsWith('/x')), 'the browser never fetched the img src')
      quiet(t, w)
    }
  })

  t.test('each page at both widths, and the release funnel', async (t) => {
    for (const width of WIDTHS) {
      const w = await openPage(t, context, width)
      await signIn(w, server.url, operator)
      await show(w, '#/releases', 'tbody tr')
      t.equal(await w.page.locator('tbody tr').count(), 2, 'two releases, newest first')
      t.match(await w.page.locator('tbody tr').first().textContent(), /v2/)
      t.same(await unlabelledControls(w), [], 'every control of the releases page has a label')
      await screenshot(w, 'releases')
      await show(w, '#/release/esp32cam/v2', 'svg.chart')
      const adoption = await getJson<Record<string, number>>(server, '/v1/releases/esp32cam/v2/adoption', operator)
      for (const state of ['offered', 'downloaded', 'failed', 'rolled_back', 'silent_rollbacks']) {
        t.equal(await w.page.locator(`g.row[data-key="${state}"]`).getAttribute('data-count'), String(adoption.body[state]), `funnel: ${state}`)
      }
      await screenshot(w, 'release')
      await show(w, '#/rollouts', '[data-channel="esp32cam / stable"]')
      t.same(await unlabelledControls(w), [], 'every control of the rollouts page has a label')
      await screenshot(w, 'rollouts')
      await show(w, '#/devices', 'tbody tr')
      t.equal(await w.page.locator('tbody tr').count(), 15)
      t.same(await unlabelledControls(w), [], 'every control of the devices page has a label')
      await screenshot(w, 'devices')
      await show(w, '#/audit', 'tbody tr')
      t.same(await unlabelledControls(w), [], 'every control of the audit page has a label')
      await screenshot(w, 'audit')
      const overflow = await w.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')
      t.ok(overflow <= 0, `the audit page fits ${width} px without scrolling sideways (${overflow})`)
      quiet(t, w)
    }
  })

  t.test('pause a rollout from the page: the API shows it paused, with the audit entry', async (t) => {
    const w = await openPage(t, context)
    await signIn(w, server.url, operator)
    await show(w, '#/rollouts?board=esp32cam', '[data-channel="esp32cam / stable"]')
    const stable = w.page.locator('[data-channel="esp32cam / stable"]')
    await stable.getByRole('button', { name: 'Pause…' }).click()
    const dialog = w.page.getByRole('dialog')
    await dialog.waitFor()
    const effect = await dialog.locator('#confirm-effect').textContent()
    t.match(effect, /No further device starts on v2: the 7 devices of esp32cam \/ stable not running it stay where they are/)
    t.match(effect, /The 5 devices already running it keep it/)
    await screenshot(w, 'rollout-confirm')
    await dialog.getByLabel('Reason (written to the audit log)').fill('support tickets from site 4')
    await dialog.getByRole('button', { name: 'Pause rollout' }).click()
    await stable.locator('dd[data-state="paused"]').waitFor()

    const state = await getJson<{ channels: Array<{ channel: string; current: { state: string; version: string } }> }>(server, '/v1/rollouts/esp32cam', operator)
    t.match(state.body.channels.find((c) => c.channel === 'stable'), { current: { version: 'v2', state: 'paused' } })
    const audit = await getJson<{ entries: Array<Record<string, unknown>> }>(server, '/v1/audit?action=pause', operator)
    t.match(audit.body.entries, [{ action: 'pause', actor: 'ops-alice', board: 'esp32cam', channel: 'stable', version: 'v2', reason: 'support tickets from site 4' }])
    await show(w, '#/audit?action=pause', 'tbody tr')
    t.match(await w.page.locator('tbody tr').first().textContent(), /ops-alice.*pause.*support tickets from site 4/)
    quiet(t, w)
  })

  t.test('pin and unpin a device from the page, each with its reason in the audit log', async (t) => {
    const w = await openPage(t, context, WIDTHS[1])
    await signIn(w, server.url, operator)
    await show(w, '#/rollouts?board=esp32cam', '[data-channel="esp32cam / stable"]')
    await w.page.getByLabel('Devices to pin (ids separated by spaces, commas or lines)').fill(`${deviceId(13)}\n${deviceId(14).toUpperCase()}`)
    await w.page.locator('select[data-key="pin-version:esp32cam"]').selectOption('v1')
    await w.page.getByRole('button', { name: 'Pin…' }).click()
    const dialog = w.page.getByRole('dialog')
    t.match(await dialog.locator('#confirm-effect').textContent(), /2 devices of esp32cam will be offered v1 whatever the rollout of their channel does/)
    await dialog.getByLabel('Reason (written to the audit log)').fill('lab units stay on v1')
    await dialog.getByRole('button', { name: 'Pin 2 devices' }).click()
    await w.page.getByRole('button', { name: `Unpin ${deviceId(13)}…` }).waitFor()
    const pins = await getJson<{ pins: Array<{ device: string; version: string; reason: string }> }>(server, '/v1/pins?board=esp32cam', operator)
    t.match(pins.body.pins, [{ device: deviceId(13), version: 'v1', reason: 'lab units stay on v1' }, { device: deviceId(14), version: 'v1' }])

    await w.page.getByRole('button', { name: `Unpin ${deviceId(13)}…` }).click()
    t.match(await dialog.locator('#confirm-effect').textContent(), `Device ${deviceId(13)} stops being held on v1`)
    await dialog.getByRole('button', { name: 'Unpin' }).click()
    // The reason is required: the form is not sent without one.
    t.equal(await dialog.isVisible(), true, 'the confirmation stays open without a reason')
    t.equal(await dialog.locator('textarea:invalid').count(), 1)
    t.equal((await getJson<{ pins: unknown[] }>(server, '/v1/pins?board=esp32cam', operator)).body.pins.length, 2, 'nothing changed')
    await dialog.getByLabel('Reason (written to the audit log)').fill('back to the fleet')
    await dialog.getByRole('button', { name: 'Unpin' }).click()
    await w.page.getByRole('button', { name: `Unpin ${deviceId(13)}…` }).waitFor({ state: 'detached' })
    const after = await getJson<{ pins: Array<{ device: string }> }>(server, '/v1/pins?board=esp32cam', operator)
    t.same(after.body.pins.map((p) => p.device), [deviceId(14)])
    const audit = await getJson<{ entries: Array<Record<string, unknown>> }>(server, `/v1/audit?device=${deviceId(13)}`, operator)
    t.match(audit.body.entries, [
      { action: 'unpin', actor: 'ops-alice', reason: 'back to the fleet' },
      { action: 'pin', actor: 'ops-alice', reason: 'lab units stay on v1' },
    ])
    quiet(t, w)
  })

  t.test('the page refreshes by itself and keeps what the operator typed, and where', async (t) => {
    // The page's own clock, moved by the test: no waiting for the refresh interval. A tab of its
    // own, as the clock stays installed in the tab.
    const w = await openPage(t, context, WIDTHS[0], { own: true })
    await w.page.clock.install()
    await signIn(w, server.url, operator)
    await show(w, '#/rollouts?board=esp32cam', '[data-channel="esp32cam / stable"] dd[data-state="paused"]')
    const percent = w.page.getByLabel('Rollout percentage')
    await percent.fill('30')
    // Another operator resumes the rollout meanwhile.
    const bob = await operatorToken(server, 'ops-bob')
    t.equal((await call(server, 'POST', '/v1/rollouts/esp32cam/stable/resume', bob, { reason: 'tickets closed' })).status, 200)
    await w.page.clock.fastForward(11_000)
    await w.page.locator('[data-channel="esp32cam / stable"] dd[data-state="active"]').waitFor()
    t.equal(await percent.inputValue(), '30', 'the typed percentage survives the refresh')
    t.equal(await percent.evaluate((el) => el === (el.ownerDocument as unknown as { activeElement: unknown }).activeElement), true, 'and keeps the focus')
    quiet(t, w)
  })
})

t.test('device search finds one device among 10,000', { skip: chromiumMissing }, async (t) => {
  // Check-ins through the devices repository, as the manifest route records them, into the SQLite
  // file the server then opens.
  const dataDir = tempDir(t)
  const db = openDatabase(dataDir)
  const repos = createRepositories(db, systemClock)
  const checkIns = []
  for (let i = 0; i < 10_000; i++) {
    checkIns.push(
      repos.devices.checkIn({ device: deviceId(i, 0xc4), board: 'esp32cam', channel: 'stable', version: 'v1', sequence: 1, address: '10.0.0.1', userAgent: 'esp32-ota', offeredReleaseId: null })
    )
  }
  await Promise.all(checkIns)
  db.close()
  const server = await startServer(t, FLEET_ENV, { dataDir: dataDir })
  const operator = await operatorToken(server)
  const wanted = deviceId(7777, 0xc4)
  const w = await openPage(t, context)
  await signIn(w, server.url, operator)
  await show(w, '#/devices', 'tbody tr')
  await w.page.getByLabel('Device id or prefix').fill(wanted.replace(/(..)(?!$)/g, '$1:').toUpperCase())
  await w.page.getByRole('button', { name: 'Apply' }).click()
  await w.page.waitForFunction(() => (globalThis as unknown as InPage).document.querySelectorAll('tbody tr').length === 1)
  t.match(await w.page.locator('tbody tr').textContent(), wanted, 'the whole id (typed as AA:BB:…) finds the device')
  await w.page.locator('tbody a', { hasText: wanted }).click()
  await w.page.getByRole('heading', { name: `Device ${wanted}` }).waitFor()
  t.match(await w.page.locator('dl.facts').first().textContent(), /esp32cam \/ stable/)

  await show(w, `#/devices?prefix=${wanted.slice(0, 11)}`, 'tbody tr')
  t.equal(await w.page.locator('tbody tr').count(), 16, 'an 11-digit prefix: the 16 devices that share it')
  await show(w, '#/devices', 'tbody tr')
  t.equal(await w.page.locator('tbody tr').count(), 50, 'pages of 50')
  await w.page.getByRole('link', { name: 'Next page' }).click()
  await w.page.getByRole('link', { name: 'Previous page' }).waitFor()
  t.match(await w.page.locator('tbody tr').first().textContent(), deviceId(50, 0xc4), 'the next page starts after the first 50')
  quiet(t, w)
})
