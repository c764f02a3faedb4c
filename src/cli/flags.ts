import fs from 'node:fs'
import path from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError, print, type CliIo } from './io'

// Everything about reading a command line's flags, in one place, so every command reads, refuses
// and suggests the same way: exit 2 (UsageError) for a flag or argument that is wrong or a file a
// flag names that cannot be read.

export type FlagOptions = NonNullable<ParseArgsConfig['options']>
export type FlagValues = Record<string, string | boolean | string[] | undefined>
export interface Flags {
  values: FlagValues
  positionals: string[]
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/** The candidate nearest to `word`, when it is near enough to be what was meant. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: { name: string; d: number } | undefined
  for (const name of candidates) {
    const d = name.startsWith(word) || word.startsWith(name) ? Math.min(1, distance(word, name)) : distance(word, name)
    if (!best || d < best.d) best = { name, d }
  }
  return best && best.d <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined
}

/**
 * Reads `args` against the command's flags. An unknown flag is refused with the closest known one
 * suggested; a flag without its value, or more positional arguments than `argumentNames` (named in
 * the message; a last name ending in "..." takes any number), are refused too.
 */
export function readFlags(args: string[], options: FlagOptions, argumentNames: string[] = []): Flags {
  const known = Object.keys(options)
  for (const arg of args) {
    if (arg === '--') break
    const m = /^--([^=]+)/.exec(arg)
    if (!m || known.includes(m[1])) continue
    const near = closest(m[1], known)
    throw new UsageError(`unknown flag --${m[1]}${near ? `: did you mean --${near}?` : ''}`)
  }
  let parsed: Flags
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as Flags
  } catch (err) {
    const e = err as { code?: string; message: string }
    const flag = /'(-[^' ]+)/.exec(e.message)?.[1]
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) throw new UsageError(`${flag} needs a value`)
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) throw new UsageError(`unknown flag ${flag}`)
    throw new UsageError(e.message)
  }
  // A last name ending in "..." (DEVICE...) takes any number of arguments.
  const variadic = argumentNames.at(-1)?.endsWith('...') === true
  if (!variadic && parsed.positionals.length > argumentNames.length) {
    const extra = parsed.positionals[argumentNames.length]
    throw new UsageError(
      argumentNames.length === 0
        ? `unexpected argument "${extra}": this command takes only flags`
        : `unexpected argument "${extra}": this command takes ${argumentNames.join(' ')}`
    )
  }
  return parsed
}

/** A string flag's value, if given. */
export function flag(values: FlagValues, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/** A repeatable string flag's values (none when not given). */
export function flagList(values: FlagValues, name: string): string[] {
  const value = values[name]
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
}

/** The --json output: the server's answer as it is, indented. */
export function printJson(io: CliIo, value: unknown): void {
  print(io, JSON.stringify(value, null, 2))
}

/**
 * The bytes of a file named on the command line (relative to the working folder). One that cannot be
 * read is a usage error (exit 2), named by `label`: the flag, or the file as given.
 */
export function readInputFile(io: Pick<CliIo, 'cwd'>, file: string, label = file): Buffer {
  try {
    return fs.readFileSync(path.resolve(io.cwd, file))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'not readable (permission denied)' : (err as Error).message
    throw new UsageError(`${label}: ${why}`)
  }
}

/** The bytes of the file a flag names; required. */
export function readFlagFile(io: CliIo, values: FlagValues, name: string): Buffer {
  const file = flag(values, name)
  if (!file) throw new UsageError(`--${name} is required`)
  return readInputFile(io, file, `--${name} ${file}`)
}

/** The entries of a list file a flag names, when given: one a line, `#` starts a comment, blank lines skipped. */
export function readListFile(io: CliIo, values: FlagValues, name: string): string[] {
  if (flag(values, name) === undefined) return []
  const text = readFlagFile(io, values, name).toString('utf8')
  return text.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '')
}
