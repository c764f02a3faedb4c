import { ROLES, TokenNameTaken, type Role } from '../../repositories/tokens'
import { withDataFolder } from '../data-folder'
import { CliRefusal, UsageError, print, table } from '../io'
import type { Command } from '../command'
import { TOKEN_NAME_FORM } from '../../schemas/common'

export const tokenCommands: Command[] = [
  {
    name: 'token create',
    usage: 'token create --role releaser|operator|admin --name NAME',
    summary: 'create a bearer token; prints it once, as the last line (only its hash is stored)',
    options: { role: { type: 'string' }, name: { type: 'string' } },
    async run({ values }, io) {
      const role = values.role as string | undefined
      const name = values.name as string | undefined
      if (!role || !(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`)
      if (!name || !TOKEN_NAME_FORM.test(name)) throw new UsageError('--name must be 1-64 letters, digits, ".", "_", "@" or "-"')
      const token = await withDataFolder(io, async (repos) => {
        try {
          return await repos.tokens.create(name, role as Role)
        } catch (err) {
          if (err instanceof TokenNameTaken) throw new CliRefusal(err.message)
          throw err
        }
      })
      io.stderr.write(`created ${role} token "${name}"; it is shown once, keep it secret:\n`)
      print(io, token)
    },
  },
  {
    name: 'token list',
    usage: 'token list',
    summary: 'list tokens (names, roles, state; never the tokens)',
    async run(_args, io) {
      const tokens = await withDataFolder(io, (repos) => repos.tokens.list())
      print(
        io,
        table(
          tokens.map((t) => ({ ...t, state: t.revoked_at ? 'revoked' : 'active' })),
          ['name', 'role', 'state', 'created_at', 'last_used_at']
        )
      )
    },
  },
  {
    name: 'token revoke',
    arguments: ['NAME'],
    usage: 'token revoke NAME',
    summary: 'revoke the active token of that name',
    async run({ positionals }, io) {
      if (positionals.length !== 1) throw new UsageError('name exactly one token')
      const ok = await withDataFolder(io, (repos) => repos.tokens.revoke(positionals[0]))
      if (!ok) throw new CliRefusal(`no active token named "${positionals[0]}"`)
      print(io, `revoked token "${positionals[0]}"`)
    },
  },
]
