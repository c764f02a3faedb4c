import type { CliIo } from './io'
import type { FlagOptions, FlagValues } from './flags'

/** One command of the tool: what `ota-gate help` lists and main.ts runs. */
export interface Command {
  /** e.g. "token create" */
  name: string
  usage: string
  summary: string
  options?: FlagOptions
  /** the positional arguments it takes, as its usage names them (none when absent) */
  arguments?: string[]
  run(args: { values: FlagValues; positionals: string[] }, io: CliIo): Promise<void>
}
