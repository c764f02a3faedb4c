import { api, keepToken } from '../api.js'
import { errorBox, form, h } from '../dom.js'

/** Roles the console serves: the operator API's own (admin may do everything). */
export const OPERATOR_ROLES = ['operator', 'admin']

/**
 * The sign-in form. The token is read by the page and checked with GET /v1/whoami; the form is
 * never submitted (the CSP's form-action 'none' would stop it), so the token is in no URL.
 */
export function signInPage({ onSignedIn, message }) {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true })
  const problem = h('div', { 'aria-live': 'assertive' }, message ? h('p', { class: 'notice' }, message) : null)
  const button = h('button', { type: 'submit' }, 'Sign in')
  const signInForm = form(
    { 'aria-describedby': 'signin-help' },
    async () => {
      const token = input.value.trim()
      if (!token) return
      button.disabled = true
      try {
        const me = await api('GET', '/v1/whoami', { token })
        if (!OPERATOR_ROLES.includes(me.role)) {
          problem.replaceChildren(
            errorBox(`The console needs a token of role operator or admin; the token "${me.name}" has role ${me.role}. Create one with: ota-gate token create --role operator --name NAME`)
          )
          return
        }
        keepToken(token)
        input.value = ''
        onSignedIn(me)
      } catch (err) {
        problem.replaceChildren(errorBox(err))
      } finally {
        button.disabled = false
      }
    },
    h('label', { for: 'token' }, 'Operator or admin token'),
    input,
    h(
      'p',
      { id: 'signin-help', class: 'muted' },
      'Kept in this tab only (session storage) and sent as an Authorization header; Sign out forgets it.'
    ),
    button
  )
  return h('section', { class: 'signin panel' }, h('h1', null, 'Sign in to the ota-gate console'), problem, signInForm)
}
