import { Sequence, VERSION_FORM } from '../schemas/common'
import { GitError, headCommit as gitHeadCommit, readBlobs, releaseBranchRefs as gitReleaseBranchRefs, runGit as runRepoGit, type GitResult } from './git'
import { matchesTagPattern } from './provenance'

// What the release tool and the ledger import read from the firmware repository on the releaser's
// machine: the tags at HEAD, the state of the working tree, and the version and sequence files as
// they are at a tagged commit (never as they are in the working tree).

/** Where the ESP32-CAM firmware keeps its release label and its sequence. */
export const DEFAULT_VERSION_FILE = 'ESP32-CAM/VERSION'
export const DEFAULT_SEQUENCE_FILE = 'ESP32-CAM/SEQUENCE'

export class FirmwareRepoError extends Error {
  override name = 'FirmwareRepoError'
}

/** Git's output may be large here (a long history): up to this much is read. */
const MAX_OUTPUT = 64 * 1024 * 1024

/** `ask`, with a git that could not run turned into a FirmwareRepoError. */
function orRepoError<T>(ask: Promise<T>): Promise<T> {
  return ask.catch((err: unknown) => {
    throw err instanceof GitError ? new FirmwareRepoError(`could not run git: ${err.message}`) : err
  })
}

function runGit(dir: string, args: string[]): Promise<GitResult> {
  return orRepoError(runRepoGit(dir, args, { maxBuffer: MAX_OUTPUT }))
}

/** Runs git and returns its output; a failure is a FirmwareRepoError carrying git's own words. */
async function git(dir: string, args: string[]): Promise<string> {
  const r = await runGit(dir, args)
  if (r.code !== 0) throw new FirmwareRepoError(`git ${args[0]} failed in ${dir}: ${r.stderr.trim() || `exit ${r.code}`}`)
  return r.stdout
}

/** The commit HEAD names; refuses a folder that is not a git repository or has no commit yet. */
export async function headCommit(dir: string): Promise<string> {
  let head: string | undefined
  try {
    head = await gitHeadCommit(dir)
  } catch (err) {
    if (err instanceof GitError) throw new FirmwareRepoError(`${dir} is not a git repository: run this in the firmware repository or give --repo DIR`)
    throw err
  }
  if (!head) throw new FirmwareRepoError(`the repository in ${dir} has no commit yet`)
  return head
}

/** Tracked files with changes (staged or not), as `git status --porcelain` lines; empty when clean. */
export async function trackedChanges(dir: string): Promise<string[]> {
  const out = await git(dir, ['status', '--porcelain', '--untracked-files=no'])
  return out.split('\n').filter((l) => l.trim() !== '')
}

/** Tags matching the release tag pattern (as the server matches it) that point at `commit`, by name. */
export async function tagsPointingAt(dir: string, commit: string, pattern: string): Promise<string[]> {
  const out = await git(dir, ['tag', '--points-at', commit])
  return out.split('\n').map((l) => l.trim()).filter((tag) => tag !== '' && matchesTagPattern(tag, pattern)).sort()
}

/**
 * The refs of the release branch that exist: the local branch and `origin/<branch>`. Both count,
 * since `git push origin <sha>:production` moves only the remote-tracking one.
 */
export function releaseBranchRefs(dir: string, branch: string): Promise<string[]> {
  return orRepoError(gitReleaseBranchRefs(dir, branch))
}

/**
 * The text of each of `files` as it is at its commit, in order, undefined where no such file (blob)
 * exists there: the raw bytes, no textconv, and a directory of that name is not a file. One git
 * process however many files, so a history of many tags is read at once.
 */
export async function filesAtCommits(dir: string, files: Array<{ commit: string; file: string }>): Promise<Array<string | undefined>> {
  const blobs = await orRepoError(readBlobs(dir, files.map(({ commit, file }) => `${commit}:${file}`), MAX_OUTPUT))
  return blobs.map((b) => b?.toString('utf8'))
}

export interface TaggedCommit {
  tag: string
  commit: string
}

/**
 * Every tag matching `pattern`: those whose commit lies on the branch (any of `branchRefs`), oldest
 * first along its history (tags on one commit in name order), and the others (only on main, say).
 */
export async function releaseTags(dir: string, pattern: string, branchRefs: string[]): Promise<{ onBranch: TaggedCommit[]; offBranch: TaggedCommit[] }> {
  const history = (await git(dir, ['rev-list', '--topo-order', '--reverse', ...branchRefs])).split('\n').filter(Boolean)
  const position = new Map(history.map((commit, i) => [commit, i]))
  const refs = await git(dir, ['for-each-ref', '--format=%(refname:strip=2) %(objectname) %(*objectname)', 'refs/tags'])
  const onBranch: TaggedCommit[] = []
  const offBranch: TaggedCommit[] = []
  for (const line of refs.split('\n').filter(Boolean)) {
    const [tag, object, peeled] = line.split(' ')
    // An annotated tag's own object is the tag; its commit is the peeled object.
    const commit = peeled || object
    if (!matchesTagPattern(tag, pattern)) continue
    ;(position.has(commit) ? onBranch : offBranch).push({ tag, commit })
  }
  onBranch.sort((a, b) => (position.get(a.commit) as number) - (position.get(b.commit) as number) || a.tag.localeCompare(b.tag))
  return { onBranch, offBranch: offBranch.sort((a, b) => a.tag.localeCompare(b.tag)) }
}

/** The part of a tag after the pattern's fixed prefix: `prod-mason` under `prod-*` is `mason`. */
export function versionFromTag(tag: string, pattern: string): string {
  const wildcard = pattern.search(/[*?[]/)
  const prefix = wildcard < 0 ? '' : pattern.slice(0, wildcard)
  return tag.startsWith(prefix) ? tag.slice(prefix.length) : tag
}


/** Refuses a version label the contract does not allow, saying where it came from. */
export function checkVersion(version: string, source: string): string {
  if (!VERSION_FORM.test(version)) {
    throw new FirmwareRepoError(
      `${source} gives version "${version}": a version is 1-31 letters, digits, ".", "_", "+" or "-", starting with a letter or digit`
    )
  }
  return version
}

/** Parses a sequence (1 … 4294967295), saying where it came from when it is not one. */
export function checkSequence(text: string, source: string): number {
  const n = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < (Sequence.minimum as number) || n > (Sequence.maximum as number)) {
    throw new FirmwareRepoError(`${source} gives sequence "${text}": a sequence is a whole number from 1 to 4294967295`)
  }
  return n
}

export interface ReleaseLabels {
  version: string
  /** undefined when the commit has no sequence file */
  sequence: number | undefined
  /** where each came from, for messages: a file at the tag, a flag, or the tag's name */
  versionSource: string
  sequenceSource: string | undefined
}

/** Where the version and the sequence are kept, and the tag pattern the version falls back on. */
export interface LabelFiles {
  versionFile: string
  sequenceFile: string
  tagPattern: string
}

/** The version and sequence files of each tagged commit, in order: two texts for each. */
export async function labelTexts(dir: string, targets: TaggedCommit[], files: LabelFiles): Promise<Array<{ versionText: string | undefined; sequenceText: string | undefined }>> {
  const texts = await filesAtCommits(dir, targets.flatMap(({ commit }) => [{ commit, file: files.versionFile }, { commit, file: files.sequenceFile }]))
  return targets.map((_, i) => ({ versionText: texts[2 * i], sequenceText: texts[2 * i + 1] }))
}

/**
 * The version and sequence recorded at a tagged commit, from the texts of its version and sequence
 * files there (labelTexts), the version falling back to the tag's name after the pattern's prefix.
 * Whitespace around the files' contents is ignored; forms are checked.
 */
export function labelsAtCommit(
  target: TaggedCommit,
  files: LabelFiles,
  texts: { versionText: string | undefined; sequenceText: string | undefined }
): ReleaseLabels {
  const { versionText, sequenceText } = texts
  const versionSource =
    versionText === undefined ? `the tag name ${target.tag}` : `${files.versionFile} at ${target.tag} (${target.commit.slice(0, 12)})`
  const version = checkVersion(versionText === undefined ? versionFromTag(target.tag, files.tagPattern) : versionText.trim(), versionSource)
  if (sequenceText === undefined) return { version, versionSource, sequence: undefined, sequenceSource: undefined }
  const sequenceSource = `${files.sequenceFile} at ${target.tag} (${target.commit.slice(0, 12)})`
  return { version, versionSource, sequence: checkSequence(sequenceText.trim(), sequenceSource), sequenceSource }
}

export interface HistorySettings extends LabelFiles {
  branch: string
  /** tags left out on purpose (--skip) */
  skip?: ReadonlySet<string>
  /** sequences given for tags (--sequence TAG=N), over the sequence file */
  sequences?: ReadonlyMap<string, number>
}

/** Why a tag matching the pattern is not part of the history imported. */
export const LEFT_OUT_REASONS = ['not_on_branch', 'no_sequence', 'skipped', 'duplicate'] as const
export type LeftOutReason = (typeof LEFT_OUT_REASONS)[number]

export interface LeftOutTag extends TaggedCommit {
  reason: LeftOutReason
  /** what it means and what to do about it */
  message: string
}

export interface ReleaseHistory {
  /** oldest first along the release branch */
  releases: Array<TaggedCommit & { version: string; sequence: number }>
  /** every other tag matching the pattern, and why */
  leftOut: LeftOutTag[]
}

/**
 * Every release of the past as the repository records it: each tag matching the pattern on the
 * release branch, oldest first, with the version and sequence at its commit (or from `sequences`).
 * Tags elsewhere, tags without a sequence, tags in `skip` and a second tag naming the same release
 * (same commit, version and sequence) are left out, each with its reason, never silently.
 */
export async function releaseHistory(dir: string, settings: HistorySettings): Promise<ReleaseHistory> {
  await headCommit(dir)
  const branchRefs = await releaseBranchRefs(dir, settings.branch)
  if (branchRefs.length === 0) {
    throw new FirmwareRepoError(`the repository in ${dir} has no branch ${settings.branch} (nor origin/${settings.branch}): fetch it first`)
  }
  const { onBranch, offBranch } = await releaseTags(dir, settings.tagPattern, branchRefs)
  const known = new Set([...onBranch, ...offBranch].map((t) => t.tag))
  for (const tag of [...(settings.skip ?? []), ...(settings.sequences?.keys() ?? [])]) {
    if (!known.has(tag)) throw new FirmwareRepoError(`there is no tag ${tag} matching ${settings.tagPattern} in ${dir}: check the name given to --skip or --sequence`)
  }
  const leftOut: LeftOutTag[] = offBranch.map((t) => ({
    ...t,
    reason: 'not_on_branch',
    message: `not on ${settings.branch}: never released (if it was, promote its commit to ${settings.branch} and import again)`,
  }))
  const releases: ReleaseHistory['releases'] = []
  // The files of every tag not skipped, in one read, in the order of the loop below.
  const texts = await labelTexts(dir, onBranch.filter((tagged) => !settings.skip?.has(tagged.tag)), settings)
  let next = 0
  for (const tagged of onBranch) {
    if (settings.skip?.has(tagged.tag)) {
      leftOut.push({ ...tagged, reason: 'skipped', message: 'left out with --skip' })
      continue
    }
    const labels = labelsAtCommit(tagged, settings, texts[next++])
    const sequence = settings.sequences?.get(tagged.tag) ?? labels.sequence
    if (sequence === undefined) {
      leftOut.push({
        ...tagged,
        reason: 'no_sequence',
        message: `${tagged.commit.slice(0, 12)} has no ${settings.sequenceFile}: give its sequence with --sequence ${tagged.tag}=N (or the file that holds it with --sequence-file)`,
      })
      continue
    }
    const twin = releases.find((r) => r.commit === tagged.commit && r.version === labels.version && r.sequence === sequence)
    if (twin) {
      leftOut.push({ ...tagged, reason: 'duplicate', message: `names the same release as ${twin.tag} (commit, version ${twin.version} and sequence ${twin.sequence}): recorded once, as ${twin.tag}` })
      continue
    }
    releases.push({ ...tagged, version: labels.version, sequence })
  }
  return { releases, leftOut }
}
