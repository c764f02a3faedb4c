import fs from 'node:fs'
import path from 'node:path'
import { generateKeyPair, keyIdOf, publicKeyPem, ReleaseKeyError } from '../../release/keys'
import { ReleaseKeyExists } from '../../repositories/release-keys'
import { withDataFolder } from '../data-folder'
import { readInputFile } from '../flags'
import { CliRefusal, UsageError, print, table } from '../io'
import type { Command } from '../command'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@ -]{0,63}$/
const KEY_ID = /^[0-9a-f]{16}$/

function onePath(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`name exactly one ${what}`)
  return positionals[0]
}

export const keysCommands: Command[] = [
  {
    name: 'keys generate',
    usage: 'keys generate --out FILE',
    summary: 'make a P-256 release key pair: FILE (private, mode 0600) and FILE.pub; prints the key id',
    options: { out: { type: 'string' } },
    async run({ values, positionals }, io) {
      const out = values.out as string | undefined
      if (!out) throw new UsageError('--out FILE is required (where the private key goes; the public key goes to FILE.pub)')
      const privatePath = path.resolve(io.cwd, out)
      const publicPath = `${privatePath}.pub`
      for (const p of [privatePath, publicPath]) {
        if (fs.existsSync(p)) throw new CliRefusal(`${p} exists; a key is never overwritten: choose another --out`)
      }
      const pair = generateKeyPair()
      // 'wx' fails rather than overwrite a file created since the check above.
      fs.writeFileSync(privatePath, pair.privateKeyPem, { flag: 'wx', mode: 0o600 })
      fs.chmodSync(privatePath, 0o600)
      fs.writeFileSync(publicPath, pair.publicKeyPem, { flag: 'wx', mode: 0o644 })
      io.stderr.write(`private key: ${privatePath} (keep it offline)\npublic key:  ${publicPath} (trust it on the server with \`ota-gate keys trust ${path.basename(publicPath)}\`)\nkey id:\n`)
      print(io, pair.keyId)
    },
  },
  {
    name: 'keys trust',
    arguments: ['PUBLIC.pem'],
    usage: 'keys trust PUBLIC.pem [--name NAME]',
    summary: 'trust a release public key (ECDSA P-256, PEM); prints its key id',
    options: { name: { type: 'string' } },
    async run({ values, positionals }, io) {
      const file = path.resolve(io.cwd, onePath(positionals, 'public key file'))
      const name = (values.name as string | undefined) ?? path.basename(file).replace(/(\.pub|\.pem)+$/, '')
      if (!NAME.test(name)) throw new UsageError('--name must be 1-64 letters, digits, spaces, ".", "_", "@" or "-"')
      const text = readInputFile(io, file).toString('utf8')
      let pem: string
      try {
        pem = publicKeyPem(text)
      } catch (err) {
        if (err instanceof ReleaseKeyError) throw new CliRefusal(`${file}: ${err.message}`)
        throw err
      }
      const keyId = keyIdOf(pem)
      await withDataFolder(io, async (repos) => {
        try {
          await repos.releaseKeys.trust({ key_id: keyId, name, public_key_pem: pem })
        } catch (err) {
          if (err instanceof ReleaseKeyExists) throw new CliRefusal(err.message)
          throw err
        }
      })
      io.stderr.write(`trusted release key "${name}"; key id:\n`)
      print(io, keyId)
    },
  },
  {
    name: 'keys list',
    usage: 'keys list',
    summary: 'list trusted and retired release keys',
    async run({ positionals }, io) {
      const keys = await withDataFolder(io, (repos) => repos.releaseKeys.list())
      print(
        io,
        table(
          keys.map((k) => ({ ...k, state: k.retired_at === null ? 'active' : 'retired' })),
          ['key_id', 'name', 'state', 'created_at', 'retired_at']
        )
      )
    },
  },
  {
    name: 'keys retire',
    arguments: ['KEY_ID'],
    usage: 'keys retire KEYID',
    summary: 'stop trusting a release key for new releases (releases it signed stay valid)',
    async run({ positionals }, io) {
      const keyId = onePath(positionals, 'key id')
      if (!KEY_ID.test(keyId)) throw new UsageError(`"${keyId}" is not a key id (16 lowercase hex, as \`keys list\` shows)`)
      const key = await withDataFolder(io, (repos) => repos.releaseKeys.retire(keyId))
      if (!key) throw new CliRefusal(`no release key ${keyId} is known (see \`ota-gate keys list\`)`)
      print(io, `retired release key ${keyId} ("${key.name}") on ${new Date(key.retired_at ?? Date.now()).toISOString()}; releases it signed stay valid`)
    },
  },
]
