#!/usr/bin/env node
import fs from 'node:fs'
import path from 'node:path'
import { CliRefusal, UsageError, type CliIo } from './io'
import { closest, readFlags } from './flags'
import { commands } from './commands'
import type { Command } from './command'

const HELP = new Set(['--help', '-h'])

function describe(list: Command[]): string[] {
  return list.flatMap((c) => [`  ota-gate ${c.usage}`, `      ${c.summary}`])
}

function usage(): string {
  return [
    'usage: ota-gate <command> [options]     (ota-gate help COMMAND, ota-gate COMMAND --help, ota-gate --version)',
    '',
    ...describe(commands),
    '',
    'Commands on the data folder read OTA_DATA_DIR (default ./data); commands that talk to a server',
    'take --server and --token, or OTA_SERVER and OTA_TOKEN.',
    'Exit status: 0 done, 1 refused (the reason is printed), 2 usage error or unreadable input.',
  ].join('\n')
}

/** The version of this ota-gate, from its package.json (two folders up from src/cli and dist/cli). */
function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
  return pkg.version
}

/** The command the words name (longest first: "release publish" before "release"), and the rest. */
function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const command = [...commands]
    .sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((w, i) => argv[i] === w))
  return command && { command, rest: argv.slice(command.name.split(' ').length) }
}

/** Help for `words`: one command, or every command of a group (`token`), or undefined. */
function helpFor(words: string[]): string | undefined {
  const found = findCommand(words)
  if (found && found.rest.length === 0) return `usage: ota-gate ${found.command.usage}\n${found.command.summary}`
  const group = commands.filter((c) => words.length > 0 && words.every((w, i) => c.name.split(' ')[i] === w))
  if (group.length > 0) return [`commands of ota-gate ${words.join(' ')}:`, ...describe(group)].join('\n')
  return undefined
}

function unknownCommand(words: string[], io: CliIo): number {
  const typed = words.filter((w) => !w.startsWith('-')).slice(0, 2).join(' ')
  const names = [...new Set(commands.flatMap((c) => [c.name, c.name.split(' ')[0]]))]
  const near = closest(typed, names) ?? closest(words[0] ?? '', names)
  io.stderr.write(`ota-gate: unknown command "${typed}"${near ? `: did you mean "${near}"?` : ''} (ota-gate help lists every command)\n`)
  return 2
}

/** Runs one command line; resolves to the exit code (0 done, 1 refused, 2 usage error). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0) {
    io.stderr.write(usage() + '\n')
    return 2
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`ota-gate ${version()}\n`)
    return 0
  }
  if (argv[0] === 'help' || HELP.has(argv[0])) {
    const words = argv.slice(1)
    if (words.length === 0) {
      io.stdout.write(usage() + '\n')
      return 0
    }
    const help = helpFor(words)
    if (!help) return unknownCommand(words, io)
    io.stdout.write(help + '\n')
    return 0
  }
  const found = findCommand(argv)
  if (!found) {
    // `ota-gate token --help`: the commands of that group.
    const words = argv.filter((a) => !HELP.has(a))
    const help = argv.some((a) => HELP.has(a)) ? helpFor(words) : undefined
    if (help) {
      io.stdout.write(help + '\n')
      return 0
    }
    return unknownCommand(argv, io)
  }
  const { command, rest } = found
  try {
    if (rest.some((a) => HELP.has(a))) {
      io.stdout.write(`usage: ota-gate ${command.usage}\n${command.summary}\n`)
      return 0
    }
    await command.run(readFlags(rest, command.options ?? {}, command.arguments), io)
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`ota-gate ${command.name}: ${err.message}\nusage: ota-gate ${command.usage}\n`)
      return 2
    }
    if (err instanceof CliRefusal) {
      io.stderr.write(`ota-gate ${command.name}: ${err.message}\n`)
      return 1
    }
    io.stderr.write(`ota-gate ${command.name}: ${(err as Error).message}\n`)
    return 1
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      console.error(err)
      process.exitCode = 1
    }
  )
}
