import {
  DEFAULT_SEQUENCE_FILE,
  DEFAULT_VERSION_FILE,
  headCommit,
  labelsAtCommit,
  labelTexts,
  releaseBranchRefs,
  tagsPointingAt,
  trackedChanges,
} from '../release/firmware-repo'
import { isReachableFromBranch, resolveTagCommit, tagNameProblem } from '../release/git'
import { matchesTagPattern } from '../release/provenance'
import { CliRefusal } from './io'

// What `release publish` is about to publish, read from the firmware repository and checked
// before a byte is uploaded: the build comes from a release tag at HEAD, on the release branch,
// from a clean working tree.

export interface ReleaseSourceOptions {
  repo: string
  tag?: string
  tagPattern: string
  branch: string
  /** already checked for form by the caller (a usage error otherwise) */
  version?: string
  versionFile?: string
  sequence?: number
  sequenceFile?: string
}

export interface ReleaseSource {
  tag: string
  commit: string
  version: string
  sequence: number
  versionSource: string
  sequenceSource: string
}

/** The release tag of HEAD: `--tag` (which must name HEAD), or the single matching tag at HEAD. */
async function chooseTag(repo: string, head: string, opts: ReleaseSourceOptions): Promise<string> {
  if (opts.tag !== undefined) {
    const problem = tagNameProblem(opts.tag)
    if (problem) throw new CliRefusal(problem)
    if (!matchesTagPattern(opts.tag, opts.tagPattern)) {
      throw new CliRefusal(`tag ${opts.tag} does not match the release tag pattern ${opts.tagPattern}: the server publishes only such tags`)
    }
    const commit = await resolveTagCommit(repo, opts.tag)
    if (!commit) throw new CliRefusal(`there is no tag ${opts.tag} in ${repo}: tag the production commit with \`git tag -a ${opts.tag}\``)
    if (commit !== head) {
      throw new CliRefusal(
        `tag ${opts.tag} names commit ${commit.slice(0, 12)}, but HEAD is ${head.slice(0, 12)}: the file was built from HEAD, ` +
          `not from the tag; check out the tag (\`git checkout ${opts.tag}\`), build again and publish from there`
      )
    }
    return opts.tag
  }
  const tags = await tagsPointingAt(repo, head, opts.tagPattern)
  if (tags.length === 0) {
    throw new CliRefusal(
      `HEAD (${head.slice(0, 12)}) is not tagged: tag it \`git tag prod-<codename>\` on ${opts.branch} (tags matching ${opts.tagPattern} name releases), or give --tag`
    )
  }
  if (tags.length > 1) throw new CliRefusal(`HEAD has several release tags (${tags.join(', ')}): choose one with --tag`)
  return tags[0]
}

/** A file named by a flag must exist at the tagged commit. */
function explicitFileMustExist(commit: string, tag: string, file: string | undefined, text: string | undefined, flag: string): void {
  if (file !== undefined && text === undefined) {
    throw new CliRefusal(`${flag} ${file}: there is no such file at ${tag} (${commit.slice(0, 12)}); give the path from the repository's root`)
  }
}

/**
 * Checks the repository (tag, branch, clean tree) and reads the version and sequence at the tagged
 * commit. Every refusal says what to do.
 */
export async function resolveReleaseSource(opts: ReleaseSourceOptions): Promise<ReleaseSource> {
  const { repo } = opts
  const head = await headCommit(repo)
  const tag = await chooseTag(repo, head, opts)

  const branchRefs = await releaseBranchRefs(repo, opts.branch)
  if (branchRefs.length === 0) {
    throw new CliRefusal(`the repository has no branch ${opts.branch} (nor origin/${opts.branch}): \`git fetch origin ${opts.branch}\` first`)
  }
  let onBranch = false
  for (const ref of branchRefs) onBranch ||= await isReachableFromBranch(repo, head, ref)
  if (!onBranch) {
    throw new CliRefusal(
      `commit ${head.slice(0, 12)} (tag ${tag}) is not on ${opts.branch}: promote it first with \`git push origin ${head}:${opts.branch}\` ` +
        `(then \`git fetch\`), and publish again`
    )
  }
  const changes = await trackedChanges(repo)
  if (changes.length > 0) {
    const shown = changes.slice(0, 5).map((l) => l.trim()).join(', ')
    throw new CliRefusal(
      `the working tree has changes to tracked files (${shown}${changes.length > 5 ? ', …' : ''}): the build must be exactly ${tag}; ` +
        'commit or discard them, build again and publish'
    )
  }

  const target = { tag, commit: head }
  const files = { versionFile: opts.versionFile ?? DEFAULT_VERSION_FILE, sequenceFile: opts.sequenceFile ?? DEFAULT_SEQUENCE_FILE, tagPattern: opts.tagPattern }
  const [texts] = await labelTexts(repo, [target], files)
  explicitFileMustExist(head, tag, opts.versionFile, texts.versionText, '--version-file')
  explicitFileMustExist(head, tag, opts.sequenceFile, texts.sequenceText, '--sequence-file')
  const atTag = labelsAtCommit(target, files, texts)
  const version = opts.version ?? atTag.version
  const versionSource = opts.version !== undefined ? '--version' : atTag.versionSource
  let sequence: number
  let sequenceSource: string
  if (opts.sequence !== undefined) {
    sequence = opts.sequence
    sequenceSource = '--sequence'
  } else if (atTag.sequence !== undefined && atTag.sequenceSource !== undefined) {
    sequence = atTag.sequence
    sequenceSource = atTag.sequenceSource
  } else {
    throw new CliRefusal(
      `no sequence: ${opts.sequenceFile ?? DEFAULT_SEQUENCE_FILE} does not exist at ${tag}; give --sequence N or --sequence-file PATH`
    )
  }
  return { tag, commit: head, version, sequence, versionSource, sequenceSource }
}
