#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { CliRefusal, UsageError, type CliIo } from './io'
import { commands } from './commands'

export interface Command {
  /** e.g. "token create" */
  name: string
  usage: string
  summary: string
  options?: ParseArgsConfig['options']
  run(args: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }, io: CliIo): Promise<void>
}

function usage(): string {
  return [
    'usage: ota-gate <command> [options]',
    '',
    ...commands.flatMap((c) => [`  ${c.usage}`, `      ${c.summary}`]),
    '',
    'Commands on the data folder read OTA_DATA_DIR (default ./data); commands that talk to a server',
    'take --server and --token, or OTA_SERVER and OTA_TOKEN.',
  ].join('\n')
}

/** Runs one command line; resolves to the exit code (0 done, 1 refused, 2 usage error). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help' || argv[0] === '-h') {
    io.stdout.write(usage() + '\n')
    return argv.length === 0 ? 2 : 0
  }
  // Longest match first: "release publish" before "release".
  const command = [...commands]
    .sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => {
      const words = c.name.split(' ')
      return words.every((w, i) => argv[i] === w)
    })
  if (!command) {
    io.stderr.write(`ota-gate: unknown command "${argv.slice(0, 2).join(' ')}"\n\n${usage()}\n`)
    return 2
  }
  const rest = argv.slice(command.name.split(' ').length)
  try {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`usage: ota-gate ${command.usage}\n${command.summary}\n`)
      return 0
    }
    let parsed
    try {
      parsed = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true })
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    await command.run(parsed as Parameters<Command['run']>[0], io)
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
