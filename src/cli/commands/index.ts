import type { Command } from '../main'
import { migrateCommand } from './migrate'
import { tokenCommands } from './token'

export const commands: Command[] = [...tokenCommands, migrateCommand]
