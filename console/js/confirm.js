// Every change an operator makes goes through this confirmation: it says what will happen to how
// many devices, asks why (written to the audit log with the operator's token name), and only then
// calls the API.
import { errorBox, form, h } from './dom.js'

/**
 * Opens a modal dialog. `effect`: lines of text saying what will happen. `run(reason)` makes the
 * change; its error is shown in the dialog, which stays open. Resolves true once the change is made.
 */
export function confirmChange({ title, effect, action, danger = false, run }) {
  return new Promise((resolve) => {
    const reason = h('textarea', { id: 'confirm-reason', name: 'reason', required: true, maxlength: 500, 'aria-describedby': 'confirm-effect' })
    const problem = h('div', { 'aria-live': 'assertive' })
    const confirm = h('button', { type: 'submit', class: danger ? 'danger' : undefined }, action)
    const cancel = h('button', { type: 'button', class: 'secondary', on: { click: () => dialog.close() } }, 'Cancel')
    const body = form(
      null,
      async () => {
        const why = reason.value.trim()
        if (!why) {
          problem.replaceChildren(errorBox('Say why: the reason is written to the audit log.'))
          reason.focus()
          return
        }
        confirm.disabled = true
        try {
          await run(why)
          done = true
          dialog.close()
        } catch (err) {
          problem.replaceChildren(errorBox(err))
        } finally {
          confirm.disabled = false
        }
      },
      h('h2', { id: 'confirm-title' }, title),
      h('div', { id: 'confirm-effect' }, effect.map((line) => h('p', null, line))),
      h('label', { for: 'confirm-reason' }, 'Reason (written to the audit log)'),
      reason,
      problem,
      h('div', { class: 'buttons' }, cancel, confirm)
    )
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title' }, body)
    let done = false
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(done)
    })
    document.body.append(dialog)
    dialog.showModal()
    reason.focus()
  })
}
