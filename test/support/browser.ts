import fs from 'node:fs'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import type { TestContext } from './server'

/** Debian's Chromium (`apt-get install chromium`, as .ci/run does): nothing here downloads a browser. */
export const CHROMIUM = '/usr/bin/chromium'

/** Why the browser tests skip, or false when they run. */
export const chromiumMissing: string | false = fs.existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM}: the console's browser tests need it (apt-get install chromium; .ci/run installs it)`

/** Where the browser tests write their screenshots (git ignores it). */
export const SCREENSHOT_DIR = path.resolve(__dirname, '..', '..', 'test-output', 'console')

/** The two widths the console is made for: a laptop and a phone. */
export const WIDTHS = [1280, 390] as const

const FLAGS = [
  '--headless',
  '--no-sandbox', // tests run as root in CI
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/**
 * One Chromium for a whole test file, closed when the file's tests end, and the one browser context
 * its pages open in. Each context starts renderer processes of its own (about 2 s of CPU each on
 * this machine) while the pages of one context share them; and the console keeps its token in
 * sessionStorage, which is each page's own, so a new page still starts signed out.
 */
export async function launchChromium(t: TestContext): Promise<BrowserContext> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
  t.teardown(() => browser.close())
  return browser.newContext()
}

/** A new page (its own session storage) `width` px wide, with what went wrong in it. */
export interface WatchedPage {
  page: Page
  width: number
  /** console errors, uncaught exceptions and CSP violations, as Chromium reported them */
  problems: string[]
  /** alert/confirm/prompt dialogs the page opened (an injected script would) */
  dialogs: string[]
  /** every URL the page requested */
  requests: string[]
}

export async function openPage(t: TestContext, context: BrowserContext, width: number = WIDTHS[0]): Promise<WatchedPage> {
  const page = await context.newPage()
  t.teardown(() => page.close())
  await page.setViewportSize({ width, height: 900 })
  const watched: WatchedPage = { page, width, problems: [], dialogs: [], requests: [] }
  page.on('console', (m) => {
    if (m.type() === 'error') watched.problems.push(m.text())
  })
  page.on('pageerror', (e) => watched.problems.push(`uncaught: ${e.message}`))
  page.on('dialog', (d) => {
    watched.dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss()
  })
  page.on('request', (r) => watched.requests.push(r.url()))
  return watched
}

/** Signs in through the console's form; resolves once the fleet (or `expect`) is shown. */
export async function signIn(w: WatchedPage, baseUrl: string, token: string): Promise<void> {
  await w.page.goto(`${baseUrl}/console/`)
  await w.page.getByLabel('Operator or admin token').fill(token)
  await w.page.getByRole('button', { name: 'Sign in' }).click()
  await w.page.locator('#nav').waitFor({ state: 'visible' })
}

/**
 * The little of the page's globals the tests read, typed here (the project compiles without the
 * DOM library). Functions, not strings: the console's CSP forbids evaluating strings.
 */
export interface InPage {
  document: {
    getElementById(id: string): { dataset: Record<string, string | undefined>; getAttribute(name: string): string | null } | null
    querySelectorAll(selector: string): { length: number }
  }
  location: { hash: string }
}

/** The form controls of the page that have no label (neither a <label> nor aria-label), by name. */
export async function unlabelledControls(w: WatchedPage): Promise<string[]> {
  return w.page.evaluate(() => {
    type Control = { labels: ArrayLike<unknown> | null; getAttribute(name: string): string | null; outerHTML: string }
    const { document } = globalThis as unknown as { document: { querySelectorAll(selector: string): ArrayLike<Control> } }
    return Array.from(document.querySelectorAll('input, select, textarea'))
      .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML)
  })
}

/** Goes to a console route (#/…) and waits until its data is drawn and `ready` is visible. */
export async function show(w: WatchedPage, route: string, ready: string): Promise<void> {
  await w.page.evaluate(`location.hash = ${JSON.stringify(route)}`)
  try {
    // The shell marks the route whose data it has drawn (js/main.js).
    await w.page.waitForFunction(() => {
      const { document, location } = globalThis as unknown as InPage
      const main = document.getElementById('main')
      return main !== null && main.dataset.shown === location.hash && main.getAttribute('aria-busy') === 'false'
    })
    await w.page.locator(ready).first().waitFor({ state: 'visible' })
  } catch (err) {
    // What the page showed instead, for whoever reads the failure.
    await screenshot(w, `failed-${route.replace(/[^a-z0-9]+/gi, '-')}`)
    throw err
  }
}

/** A full-page screenshot as test-output/console/<name>-<width>.png. */
export async function screenshot(w: WatchedPage, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true })
  const file = path.join(SCREENSHOT_DIR, `${name}-${w.width}.png`)
  await w.page.screenshot({ path: file, fullPage: true })
  return file
}
