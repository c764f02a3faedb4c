import type { Writable } from 'node:stream'

/** What a command may touch: injected so the same code runs as a process and inside tests. */
export interface CliIo {
  env: NodeJS.ProcessEnv
  stdout: Writable & { isTTY?: boolean; columns?: number }
  stderr: Writable & { isTTY?: boolean }
  cwd: string
}

/** A refusal: the command ran but the answer is no (exit 1). */
export class CliRefusal extends Error {}
/** The command line itself is wrong (exit 2). */
export class UsageError extends Error {}

export function print(io: CliIo, line = ''): void {
  io.stdout.write(line + '\n')
}

/** Aligned columns for a person. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => format(r[c])))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)))
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')
}

function format(value: unknown): string {
  if (value === null || value === undefined) return '-'
  if (typeof value === 'number' && value > 1e12 && value < 1e14) return new Date(value).toISOString()
  return String(value)
}
