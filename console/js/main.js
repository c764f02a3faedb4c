// The console's shell: sign-in, the sections' routes (#/fleet, #/devices?…), and the refresh that
// keeps each page current without losing the operator's place (scroll, focus, typed values).
import { api, forgetToken, storedToken, whenUnauthorized } from './api.js'
import { errorBox, h } from './dom.js'
import { signInPage, OPERATOR_ROLES } from './pages/signin.js'
import fleet from './pages/fleet.js'
import releases from './pages/releases.js'
import release from './pages/release.js'
import rollouts from './pages/rollouts.js'
import devices from './pages/devices.js'
import device from './pages/device.js'
import audit from './pages/audit.js'

/** Seconds between refreshes of the page shown. */
export const REFRESH_SECONDS = 10

const PAGES = { fleet, releases, release, rollouts, devices, device, audit }
const main = document.getElementById('main')
const nav = document.getElementById('nav')
const who = document.getElementById('who')
const signOutButton = document.getElementById('signout')
const status = document.getElementById('status')

let identity = null
let current = null // { page, params, data: element }
let timer = null

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '')
  const [path, qs] = raw.split('?')
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent)
  return { name: segments[0] || 'fleet', args: segments.slice(1), query: Object.fromEntries(new URLSearchParams(qs ?? '')) }
}

function showSignedIn() {
  nav.hidden = identity === null
  who.hidden = identity === null
  signOutButton.hidden = identity === null
  who.textContent = identity ? `${identity.name} (${identity.role})` : ''
}

function signOut(message) {
  forgetToken()
  identity = null
  current = null
  clearTimeout(timer)
  showSignedIn()
  main.replaceChildren(signInPage({ onSignedIn, message }))
  status.textContent = ''
  document.title = 'Sign in · ota-gate console'
}

function onSignedIn(who) {
  identity = who
  showSignedIn()
  if (parseHash().name === 'signin') location.hash = '#/fleet'
  else void render()
}

/** What an input holds that the operator typed and a refresh must not wipe. */
function typedValues(root) {
  const typed = new Map()
  for (const el of root.querySelectorAll('input[data-key], textarea[data-key], select[data-key]')) {
    const dirty = el.type === 'checkbox' ? el.checked !== el.defaultChecked : el.tagName === 'SELECT' ? [...el.options].some((o) => o.selected !== o.defaultSelected) : el.value !== el.defaultValue
    if (dirty) typed.set(el.dataset.key, el.type === 'checkbox' ? el.checked : el.value)
  }
  return typed
}

function restore(root, typed, focusKey) {
  for (const [key, value] of typed) {
    const el = root.querySelector(`[data-key="${CSS.escape(key)}"]`)
    if (!el) continue
    if (el.type === 'checkbox') el.checked = value
    else el.value = value
  }
  if (focusKey) root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus({ preventScroll: true })
}

async function loadData(page, params) {
  try {
    return await page.data(params, { width: main.clientWidth - 32, refresh: () => refresh() })
  } catch (err) {
    if (err.status === 401) throw err
    return errorBox(err)
  }
}

async function render() {
  clearTimeout(timer)
  const { name, args, query } = parseHash()
  const page = PAGES[name] ?? PAGES.fleet
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === (page.section ?? name)) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  const params = { args, query }
  document.title = `${page.title(params)} · ota-gate console`
  const data = h('div', { class: 'data' })
  const shell = h('div', null, h('h1', null, page.title(params)), page.controls ? page.controls(params) : null, data)
  current = { page, params, data }
  main.replaceChildren(shell)
  main.setAttribute('aria-busy', 'true')
  try {
    data.replaceChildren(await loadData(page, params))
  } catch {
    return
  }
  if (current?.data !== data) return
  // Which route the page shows, once its data is drawn (aria-busy tells assistive technology).
  main.dataset.shown = location.hash
  main.setAttribute('aria-busy', 'false')
  stamp()
  main.focus({ preventScroll: true })
  schedule()
}

/** Reloads the shown page's data in place. */
async function refresh() {
  const shown = current
  if (!shown) return
  clearTimeout(timer)
  // Not while a confirmation is open: what it says was read from the page as it stands.
  if (document.querySelector('dialog[open]') || document.hidden) return schedule()
  let fresh
  try {
    fresh = await loadData(shown.page, shown.params)
  } catch {
    return
  }
  if (current !== shown) return
  const typed = typedValues(shown.data)
  const focusKey = shown.data.contains(document.activeElement) ? document.activeElement.dataset?.key : undefined
  const y = window.scrollY
  shown.data.replaceChildren(fresh)
  restore(shown.data, typed, focusKey)
  window.scrollTo(0, y)
  stamp()
  schedule()
}

function schedule() {
  clearTimeout(timer)
  timer = setTimeout(() => void refresh(), REFRESH_SECONDS * 1000)
}

function stamp() {
  status.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_SECONDS} s.`
}

async function start() {
  whenUnauthorized(() => signOut('The server no longer accepts this token (revoked?): sign in again.'))
  signOutButton.addEventListener('click', () => signOut('Signed out: the token is forgotten by this tab.'))
  window.addEventListener('hashchange', () => {
    if (identity) void render()
  })
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && identity) void refresh()
  })
  const token = storedToken()
  if (!token) return signOut()
  try {
    const me = await api('GET', '/v1/whoami', { token })
    if (!OPERATOR_ROLES.includes(me.role)) return signOut()
    onSignedIn(me)
  } catch (err) {
    signOut(err.message)
  }
}

void start()
