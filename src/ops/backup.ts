import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { readMigrations } from '../db/migrate'
import { DATABASE_FILE } from '../db/open'
import { BackupRepository, type ArtifactFile } from '../repositories/backup'
import { streamDigest } from '../store/stream-digest'

export const BACKUP_FORMAT = 'ota-gate-backup/1'
/** Written last: a folder without it is not a finished backup. */
export const MANIFEST_FILE = 'backup-manifest.json'
const KEYS_DIR = 'keys'
/** Restores in progress are staged in the data folder under this prefix, so renames into place stay on one file system. */
const STAGING_PREFIX = '.restore-'

export interface FileEntry {
  /** relative to the backup folder, with "/" */
  path: string
  size: number
  sha256: string
}

/** What a backup holds, written as backup-manifest.json. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT
  created_at: string
  /** the data folder it was taken from */
  source: string
  schema_version: number
  database: FileEntry
  /** rows per table in the copied database */
  tables: Record<string, number>
  artifacts: { count: number; bytes: number; files: FileEntry[] }
  keys: FileEntry[]
}

/** The backup or restore cannot be done as asked; the message says why and what to do. */
export class BackupRefusal extends Error {
  override name = 'BackupRefusal'
}

/** Where FsArtifactStore (src/store/fs-artifact-store.ts) keeps an artifact, relative to the data folder. */
function artifactPath(sha256: string): string {
  return path.posix.join('artifacts', sha256.slice(0, 2), `${sha256}.bin`)
}

function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  return streamDigest(fs.createReadStream(file))
}

async function fsyncPath(file: string): Promise<void> {
  const handle = await fsp.open(file, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Entries of `dir`, or undefined when it does not exist; refuses a path that is not a folder. */
async function entriesOf(dir: string, what: string): Promise<string[] | undefined> {
  try {
    return await fsp.readdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'ENOTDIR') throw new BackupRefusal(`${what} ${dir} is a file, not a folder`)
    throw err
  }
}

function listNames(names: string[]): string {
  return names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length} in all)` : '')
}

/** Every file under `dir`, relative to it, with "/" between folders. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await entriesOf(dir, 'the keys folder')
  if (!entries) return []
  const files: string[] = []
  for (const name of entries.sort()) {
    const full = path.join(dir, name)
    const stat = await fsp.stat(full)
    if (stat.isDirectory()) files.push(...(await filesUnder(full)).map((f) => `${name}/${f}`))
    else if (stat.isFile()) files.push(name)
  }
  return files
}

/** Copies one artifact, hard-linked when both folders share a file system (artifacts are never rewritten in place), and checks it. */
async function copyArtifact(artifact: ArtifactFile, fromRoot: string, toRoot: string, link: boolean): Promise<FileEntry> {
  const rel = artifactPath(artifact.sha256)
  const from = path.join(fromRoot, rel)
  const to = path.join(toRoot, rel)
  await fsp.mkdir(path.dirname(to), { recursive: true })
  try {
    let linked = false
    if (link) {
      try {
        await fsp.link(from, to)
        linked = true
      } catch (err) {
        // Some file systems refuse hard links; copying is the fallback, not a failure.
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err
      }
    }
    if (!linked) await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BackupRefusal(`artifact ${artifact.sha256} is recorded in the database but ${from} does not exist`)
    }
    throw err
  }
  const actual = await hashFile(to)
  if (actual.sha256 !== artifact.sha256 || actual.size !== artifact.size) {
    throw new BackupRefusal(
      `artifact ${from} is damaged: its ${actual.size} bytes hash to ${actual.sha256}, not the recorded ` +
        `${artifact.size} bytes with sha256 ${artifact.sha256}`
    )
  }
  return { path: rel, size: actual.size, sha256: actual.sha256 }
}

/** Reads a database file on its own (not the live one): what it refers to, and its schema. */
async function describeDatabase(file: string): Promise<{ artifacts: ArtifactFile[]; schemaVersion: number; tables: Record<string, number>; problems: string[] }> {
  let db: Database
  try {
    db = new BetterSqlite3(file, { fileMustExist: true })
  } catch (err) {
    throw new BackupRefusal(`${file} cannot be opened as an SQLite database: ${(err as Error).message}`)
  }
  try {
    const repo = new BackupRepository(db)
    const problems = await repo.integrityProblems()
    if (problems.length > 0) return { artifacts: [], schemaVersion: 0, tables: {}, problems }
    return { artifacts: await repo.artifacts(), schemaVersion: await repo.schemaVersion(), tables: await repo.tableCounts(), problems }
  } catch (err) {
    if (err instanceof BackupRefusal) throw err
    throw new BackupRefusal(`${file} is not a readable ota-gate database: ${(err as Error).message}`)
  } finally {
    db.close()
  }
}

/**
 * A consistent copy of a data folder while the server runs: the database through SQLite's online
 * backup (a snapshot, whatever is being written meanwhile), the artifacts that snapshot refers to
 * (each checked against its SHA-256; artifact rows are written only once their file is in place,
 * so every one the snapshot names exists), and the keys folder. The manifest is written last.
 * `outDir` must not exist or be empty; a failed backup removes what it wrote.
 */
export async function backupDataFolder(db: Database, dataDir: string, outDir: string, now: Date = new Date()): Promise<BackupManifest> {
  const existing = await entriesOf(outDir, '--out')
  if (existing && existing.length > 0) {
    throw new BackupRefusal(`${outDir} is not empty (${listNames(existing)}): give a new folder for each backup`)
  }
  await fsp.mkdir(outDir, { recursive: true, mode: 0o700 })
  // The backup holds the server's private key: only its owner may read it.
  await fsp.chmod(outDir, 0o700)
  try {
    const dbFile = path.join(outDir, DATABASE_FILE)
    await db.backup(dbFile)
    // One self-contained file: the copy leaves WAL mode, so no -wal/-shm files travel with it.
    const copy = new BetterSqlite3(dbFile)
    try {
      copy.pragma('journal_mode = DELETE')
    } finally {
      copy.close()
    }
    const snapshot = await describeDatabase(dbFile)
    if (snapshot.problems.length > 0) {
      throw new BackupRefusal(`the database copy fails SQLite's integrity check: ${snapshot.problems.slice(0, 3).join('; ')}`)
    }
    const dbEntry = { path: DATABASE_FILE, ...(await hashFile(dbFile)) }

    const sameDevice = (await fsp.stat(dataDir)).dev === (await fsp.stat(outDir)).dev
    const files: FileEntry[] = []
    for (const artifact of snapshot.artifacts) files.push(await copyArtifact(artifact, dataDir, outDir, sameDevice))

    const keys: FileEntry[] = []
    for (const rel of await filesUnder(path.join(dataDir, KEYS_DIR))) {
      const from = path.join(dataDir, KEYS_DIR, rel)
      const to = path.join(outDir, KEYS_DIR, rel)
      await fsp.mkdir(path.dirname(to), { recursive: true, mode: 0o700 })
      await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL)
      await fsp.chmod(to, 0o600)
      keys.push({ path: `${KEYS_DIR}/${rel}`, ...(await hashFile(to)) })
    }

    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      created_at: now.toISOString(),
      source: dataDir,
      schema_version: snapshot.schemaVersion,
      database: dbEntry,
      tables: snapshot.tables,
      artifacts: { count: files.length, bytes: files.reduce((n, f) => n + f.size, 0), files },
      keys,
    }
    const temp = path.join(outDir, `.${MANIFEST_FILE}.tmp`)
    await fsp.writeFile(temp, JSON.stringify(manifest, null, 2) + '\n', { flag: 'wx', mode: 0o600 })
    await fsyncPath(temp)
    await fsp.rename(temp, path.join(outDir, MANIFEST_FILE))
    await fsyncPath(outDir)
    return manifest
  } catch (err) {
    // Whether we made the folder or it was empty, it held nothing before: leave it so.
    for (const name of await fsp.readdir(outDir)) await fsp.rm(path.join(outDir, name), { recursive: true, force: true })
    if (!existing) await fsp.rmdir(outDir)
    throw err
  }
}

async function readManifest(fromDir: string): Promise<BackupManifest> {
  let text: string
  try {
    text = await fsp.readFile(path.join(fromDir, MANIFEST_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new BackupRefusal(`${fromDir} is not a finished ota-gate backup: it has no ${MANIFEST_FILE}`)
    }
    throw err
  }
  let manifest: BackupManifest
  try {
    manifest = JSON.parse(text) as BackupManifest
  } catch {
    throw new BackupRefusal(`${path.join(fromDir, MANIFEST_FILE)} is not valid JSON`)
  }
  if (manifest.format !== BACKUP_FORMAT) {
    throw new BackupRefusal(`${fromDir} is a backup of format ${JSON.stringify(manifest.format)}; this ota-gate reads ${BACKUP_FORMAT}`)
  }
  return manifest
}

/** Copies one file of the backup into the staging folder and checks the copy against the manifest. */
async function restoreFile(entry: FileEntry, fromDir: string, stagingDir: string, mode: number): Promise<void> {
  const from = path.join(fromDir, entry.path)
  const to = path.join(stagingDir, entry.path)
  await fsp.mkdir(path.dirname(to), { recursive: true, mode: 0o700 })
  try {
    await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupRefusal(`the backup lacks ${entry.path}, which its manifest lists`)
    throw err
  }
  await fsp.chmod(to, mode)
  const actual = await hashFile(to)
  if (actual.sha256 !== entry.sha256 || actual.size !== entry.size) {
    throw new BackupRefusal(
      `${from} has changed since the backup was made: its ${actual.size} bytes hash to ${actual.sha256}, ` +
        `the manifest says ${entry.size} bytes with sha256 ${entry.sha256}`
    )
  }
  await fsyncPath(to)
}

/**
 * Restores a backup into an empty data folder (created if missing). Everything is copied into a
 * staging folder inside it and checked there (every file against the manifest's SHA-256, the
 * database with PRAGMA integrity_check, every artifact the database refers to present and sound);
 * only then is it renamed into place, the database last. The staging folder lives inside the data
 * folder because the data folder's parent (/var/lib) is usually not writable by the service user.
 * A failed restore leaves the folder as empty as it found it.
 */
export async function restoreDataFolder(fromDir: string, dataDir: string): Promise<BackupManifest> {
  const manifest = await readManifest(fromDir)
  const existing = await entriesOf(dataDir, 'the data folder')
  const leftovers = (existing ?? []).filter((n) => n.startsWith(STAGING_PREFIX))
  const contents = (existing ?? []).filter((n) => !n.startsWith(STAGING_PREFIX))
  if (contents.length > 0) {
    throw new BackupRefusal(
      `the data folder ${dataDir} is not empty (${listNames(contents)}): restore only into an empty folder ` +
        '(move the current one aside first)'
    )
  }
  // A restore that was killed midway left only its staging folder.
  for (const name of leftovers) await fsp.rm(path.join(dataDir, name), { recursive: true, force: true })
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o750 })
  const staging = path.join(dataDir, `${STAGING_PREFIX}${randomBytes(6).toString('hex')}`)
  await fsp.mkdir(staging, { mode: 0o700 })
  try {
    await restoreFile(manifest.database, fromDir, staging, 0o640)
    const restored = await describeDatabase(path.join(staging, manifest.database.path))
    if (restored.problems.length > 0) {
      throw new BackupRefusal(`the backup's database fails SQLite's integrity check: ${restored.problems.slice(0, 3).join('; ')}`)
    }
    const known = Math.max(0, ...readMigrations().map((m) => m.version))
    if (restored.schemaVersion > known) {
      throw new BackupRefusal(
        `the backup's database has schema version ${restored.schemaVersion}, newer than this ota-gate knows (${known}): ` +
          'restore it with the ota-gate version that made it'
      )
    }

    const listed = new Map(manifest.artifacts.files.map((f) => [f.path, f]))
    for (const artifact of restored.artifacts) {
      const entry = listed.get(artifactPath(artifact.sha256))
      if (!entry || entry.sha256 !== artifact.sha256) {
        throw new BackupRefusal(`the backup's database refers to artifact ${artifact.sha256}, which its manifest does not list`)
      }
      await restoreFile(entry, fromDir, staging, 0o644)
    }
    for (const key of manifest.keys) await restoreFile(key, fromDir, staging, 0o600)

    // Into place: the database last, since its presence is what makes a data folder.
    for (const name of ['artifacts', KEYS_DIR, manifest.database.path]) {
      const from = path.join(staging, name)
      if (fs.existsSync(from)) await fsp.rename(from, path.join(dataDir, name))
    }
    await fsp.rmdir(staging)
    await fsyncPath(dataDir)
    return manifest
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true })
    // A folder this restore created goes too, unless something else appeared in it meanwhile.
    if (!existing) await fsp.rmdir(dataDir).catch(() => undefined)
    throw err
  }
}
