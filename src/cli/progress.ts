import type { Writable } from 'node:stream'

/** Byte counts as people read them: 812.0 KiB, 1.9 MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

export interface Progress {
  /** `done` bytes of the total have gone */
  update(done: number): void
  /** ends the line */
  finish(): void
}

/** For --json and other quiet runs. */
export const noProgress: Progress = { update() {}, finish() {} }

/**
 * A one-line progress bar (percent, bytes, rate) redrawn in place on a terminal; nothing at all
 * when `out` is not a terminal, so logs and pipes stay clean.
 */
export function progressBar(out: Writable & { isTTY?: boolean }, label: string, total: number, now: () => number = Date.now): Progress {
  if (!out.isTTY) return noProgress
  const started = now()
  let lastDraw = 0
  let last = 0
  let drawn = -1
  const draw = (done: number) => {
    drawn = done
    const seconds = Math.max((now() - started) / 1000, 0.001)
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100
    const width = 24
    const filled = Math.round((percent / 100) * width)
    out.write(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%  ` +
        `${formatBytes(done)} / ${formatBytes(total)}  ${formatBytes(Math.round(done / seconds))}/s\x1b[K`
    )
  }
  return {
    update(done) {
      last = done
      // Redraw at most ten times a second: a fast upload would otherwise flood the terminal.
      if (now() - lastDraw >= 100 || done === total) {
        lastDraw = now()
        draw(done)
      }
    },
    finish() {
      // The last update may already have drawn the final figure (100%): never print it twice.
      if (drawn !== last) draw(last)
      out.write('\n')
    },
  }
}
