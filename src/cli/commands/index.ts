import type { Command } from '../main'
import { backupCommands } from './backup'
import { boardCommands } from './board'
import { deltaCommands } from './delta'
import { fleetCommands } from './fleet'
import { keysCommands } from './keys'
import { ledgerCommands } from './ledger'
import { migrateCommand } from './migrate'
import { releaseCommands } from './release'
import { rolloutCommands } from './rollout'
import { tokenCommands } from './token'

export const commands: Command[] = [...tokenCommands, ...keysCommands, ...boardCommands, migrateCommand, ...releaseCommands, ...ledgerCommands, ...backupCommands, ...fleetCommands, ...rolloutCommands, ...deltaCommands]
