// Horizontal bar charts drawn as SVG by the page itself: a few dozen lines instead of a charting
// library, nothing to load from elsewhere, nothing that needs inline styles, and every label a text
// node. `width` is the width the chart gets on screen, so 12px text stays 12px on a phone too.
import { count, s } from './dom.js'

const ROW = 26
const GAP = 6

/**
 * rows: [{ key, label, value, cls?, mark? }]: one bar per row, scaled to the largest value (or to
 * `max`). `mark` is a short text after the value (e.g. "current release"). Each bar's group carries
 * data-key and data-count so the numbers shown can be read back.
 */
export function barChart({ rows, width = 640, max, label }) {
  const narrow = width < 480
  // On a phone the label sits above its bar; on a wide screen beside it.
  const labelWidth = narrow ? 0 : Math.min(200, Math.round(width * 0.3))
  const valueRoom = narrow ? 130 : 190
  const barMax = Math.max(40, width - labelWidth - valueRoom)
  const top = Math.max(1, max ?? Math.max(0, ...rows.map((r) => r.value)))
  const rowHeight = narrow ? ROW + 16 : ROW
  const height = rows.length * (rowHeight + GAP) + GAP
  const svg = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': label,
    preserveAspectRatio: 'xMinYMin meet',
  })
  svg.append(s('title', null, label))
  rows.forEach((r, i) => {
    const y = GAP + i * (rowHeight + GAP)
    const barY = narrow ? y + 16 : y
    const barH = ROW - 6
    const w = r.value > 0 ? Math.max(2, Math.round((r.value / top) * barMax)) : 0
    const g = s('g', { 'data-key': r.key, 'data-count': r.value, class: 'row' })
    g.append(s('title', null, `${r.label}: ${count(r.value)}${r.mark ? ` (${r.mark})` : ''}`))
    g.append(
      narrow
        ? s('text', { x: 0, y: y + 12 }, r.label)
        : s('text', { x: labelWidth - 8, y: barY + barH / 2 + 4, 'text-anchor': 'end' }, clip(r.label, 28))
    )
    g.append(s('rect', { class: 'track', x: labelWidth, y: barY, width: barMax, height: barH, rx: 3 }))
    g.append(s('rect', { class: `bar ${r.cls ?? ''}`.trim(), x: labelWidth, y: barY, width: w, height: barH, rx: 3 }))
    const valueText = s('text', { class: 'value', x: labelWidth + w + 6, y: barY + barH / 2 + 4 }, count(r.value))
    if (r.mark) valueText.append(s('tspan', { class: 'mark', dx: 6 }, r.mark))
    g.append(valueText)
    svg.append(g)
  })
  return svg
}

function clip(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text
}
