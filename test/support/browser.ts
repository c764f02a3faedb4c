import fs from 'node:fs'
import path from 'node:path'
import { chromium, type BrowserContext, type ConsoleMessage, type Dialog, type Page, type Request } from 'playwright-core'
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
 * this machine) while the pages of one context share them.
 */
export async function launchChromium(t: TestContext): Promise<BrowserContext> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
  t.teardown(() => browser.close())
  return browser.newContext()
}

/** A page `width` px wide, signed out, with what went wrong in it. */
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

/** The tab each width's tests take turns in, per context (see openPage). */
const tabs = new WeakMap<BrowserContext, Map<number, Page>>()

/**
 * A page `width` px wide for one test, watched from here on. The tests of a context take turns in
 * one tab per width: a new tab costs a renderer started and the console's scripts compiled again,
 * about 2 s of CPU each on this machine, where a tab used again costs a navigation. Each test still
 * starts as a new tab would: at its end the tab forgets the session storage of the page it was on
 * (where the console keeps its token) and goes to about:blank, so the next test loads the console
 * anew, signed out. `own: true` gives a tab of the test's own, closed at its end, for a test that
 * changes the tab itself (its clock).
 */
export async function openPage(t: TestContext, context: BrowserContext, width: number = WIDTHS[0], options: { own?: boolean } = {}): Promise<WatchedPage> {
  const byWidth = tabs.get(context) ?? new Map<number, Page>()
  tabs.set(context, byWidth)
  let page = options.own ? undefined : byWidth.get(width)
  if (page === undefined || page.isClosed()) {
    page = await context.newPage()
    await page.setViewportSize({ width, height: 900 })
    if (!options.own) byWidth.set(width, page)
  } else {
    // A tab behind another draws no frames, and screenshots and Playwright's checks wait for frames.
    await page.bringToFront()
  }
  const watched: WatchedPage = { page, width, problems: [], dialogs: [], requests: [] }
  const onConsole = (m: ConsoleMessage) => {
    if (m.type() === 'error') watched.problems.push(m.text())
  }
  const onPageError = (e: Error) => watched.problems.push(`uncaught: ${e.message}`)
  const onDialog = (d: Dialog) => {
    watched.dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss()
  }
  const onRequest = (r: Request) => watched.requests.push(r.url())
  page.on('console', onConsole).on('pageerror', onPageError).on('dialog', onDialog).on('request', onRequest)
  const tab = page
  t.teardown(async () => {
    if (options.own) return tab.close()
    tab.off('console', onConsole).off('pageerror', onPageError).off('dialog', onDialog).off('request', onRequest)
    if (tab.url().startsWith('http')) await tab.evaluate(() => (globalThis as unknown as { sessionStorage: { clear(): void } }).sessionStorage.clear())
    await tab.goto('about:blank')
  })
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
