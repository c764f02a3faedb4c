import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { deflateSync } from 'node:zlib'

// Writes commits, annotated tags, refs and the index of a git repository in git's own formats
// (loose objects, index version 2), without starting a git process for each: from a test process
// every process start costs tens of milliseconds, and a firmware history takes dozens of them.
// The repository is an ordinary one that git itself reads (the tests run git and the release tool
// on it, and git-repo.ts checks it with `git fsck`).

export interface Identity {
  name: string
  email: string
}

const sha1 = (bytes: Buffer) => crypto.createHash('sha1').update(bytes).digest()

/** Stores an object as git does (zlib of "<type> <size>\0<content>" under objects/xx/…); returns its id. */
function writeObject(gitDir: string, type: 'blob' | 'tree' | 'commit' | 'tag', content: Buffer): string {
  const full = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content])
  const id = sha1(full).toString('hex')
  const file = path.join(gitDir, 'objects', id.slice(0, 2), id.slice(2))
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, deflateSync(full))
  }
  return id
}

interface TreeNode {
  files: Map<string, string>
  dirs: Map<string, TreeNode>
}

/** Tree entries sorted as git sorts them: by name, a folder's name compared as if it ended in "/". */
function writeTree(gitDir: string, node: TreeNode): string {
  const entries = [
    ...[...node.files].map(([name, id]) => ({ key: name, mode: '100644', name, id })),
    ...[...node.dirs].map(([name, child]) => ({ key: `${name}/`, mode: '40000', name, id: writeTree(gitDir, child) })),
  ].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
  return writeObject(gitDir, 'tree', Buffer.concat(entries.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.id, 'hex')]))))
}

/**
 * The tracked files of one branch (path → blob id) and its tip: `commit` writes blobs, trees and the
 * commit, moves the branch and rewrites the index, as `git add` + `git commit` do.
 */
export class GitWriter {
  private readonly gitDir: string
  private readonly tracked = new Map<string, string>()
  /** the tip of the checked-out branch, undefined before the first commit */
  head: string | undefined

  constructor(
    readonly workTree: string,
    private readonly identity: Identity,
    private readonly branch = 'main'
  ) {
    this.gitDir = path.join(workTree, '.git')
  }

  private signature(): string {
    return `${this.identity.name} <${this.identity.email}> ${Math.floor(Date.now() / 1000)} +0000`
  }

  commit(files: Record<string, string>, message: string): string {
    for (const [file, content] of Object.entries(files)) {
      const full = path.join(this.workTree, file)
      fs.mkdirSync(path.dirname(full), { recursive: true })
      fs.writeFileSync(full, content)
      this.tracked.set(file, writeObject(this.gitDir, 'blob', Buffer.from(content)))
    }
    const root: TreeNode = { files: new Map(), dirs: new Map() }
    for (const [file, id] of this.tracked) {
      const parts = file.split('/')
      let node = root
      for (const dir of parts.slice(0, -1)) {
        if (!node.dirs.has(dir)) node.dirs.set(dir, { files: new Map(), dirs: new Map() })
        node = node.dirs.get(dir) as TreeNode
      }
      node.files.set(parts[parts.length - 1], id)
    }
    const who = this.signature()
    const text = [`tree ${writeTree(this.gitDir, root)}`, ...(this.head ? [`parent ${this.head}`] : []), `author ${who}`, `committer ${who}`, '', `${message}\n`].join('\n')
    this.head = writeObject(this.gitDir, 'commit', Buffer.from(text))
    this.setRef(`refs/heads/${this.branch}`, this.head)
    this.writeIndex()
    return this.head
  }

  /** An annotated tag object on `commit`, as `git tag --annotate --message` makes it. */
  tag(name: string, commit: string, message: string): void {
    const text = `object ${commit}\ntype commit\ntag ${name}\ntagger ${this.signature()}\n\n${message}\n`
    this.setRef(`refs/tags/${name}`, writeObject(this.gitDir, 'tag', Buffer.from(text)))
  }

  setRef(ref: string, id: string): void {
    const file = path.join(this.gitDir, ref)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, `${id}\n`)
  }

  /** Index version 2: every tracked file with its blob and its stat data, so `git status` sees a clean tree. */
  private writeIndex(): void {
    const names = [...this.tracked.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    const entries = names.map((name) => {
      const st = fs.statSync(path.join(this.workTree, name), { bigint: true })
      const nameBytes = Buffer.from(name)
      const entry = Buffer.alloc(Math.ceil((62 + nameBytes.length + 1) / 8) * 8)
      const u32 = (value: bigint, at: number) => entry.writeUInt32BE(Number(value & 0xffffffffn), at)
      u32(st.ctimeNs / 1_000_000_000n, 0)
      u32(st.ctimeNs % 1_000_000_000n, 4)
      u32(st.mtimeNs / 1_000_000_000n, 8)
      u32(st.mtimeNs % 1_000_000_000n, 12)
      u32(st.dev, 16)
      u32(st.ino, 20)
      u32(0o100644n, 24)
      u32(st.uid, 28)
      u32(st.gid, 32)
      u32(st.size, 36)
      Buffer.from(this.tracked.get(name) as string, 'hex').copy(entry, 40)
      entry.writeUInt16BE(Math.min(nameBytes.length, 0xfff), 60)
      nameBytes.copy(entry, 62)
      return entry
    })
    const header = Buffer.alloc(12)
    header.write('DIRC', 0)
    header.writeUInt32BE(2, 4)
    header.writeUInt32BE(entries.length, 8)
    const body = Buffer.concat([header, ...entries])
    fs.writeFileSync(path.join(this.gitDir, 'index'), Buffer.concat([body, sha1(body)]))
  }
}
