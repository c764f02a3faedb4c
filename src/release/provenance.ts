import { GitError, isReachableFromBranch, tagAndBranchRefs, tagNameProblem } from './git'


/**
 * Whether `tag` matches a glob as `git tag -l` reads it: `*` any run of characters (including
 * "/"), `?` one character, `[abc]`, `[a-z]`, `[!a]`/`[^a]` a class, `\x` the character x.
 */
export function matchesTagPattern(tag: string, pattern: string): boolean {
  return globToRegExp(pattern).test(tag)
}

function globToRegExp(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*') source += '.*'
    else if (c === '?') source += '.'
    else if (c === '\\' && i + 1 < pattern.length) source += escape(pattern[++i])
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2)
      if (close === -1) {
        source += escape(c)
        continue
      }
      let body = pattern.slice(i + 1, close)
      const negated = body[0] === '!' || body[0] === '^'
      if (negated) body = body.slice(1)
      source += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`
      i = close
    } else source += escape(c)
  }
  return new RegExp(`^${source}$`, 's')
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

export interface ProvenanceSettings {
  /** OTA_TAG_PATTERN */
  tagPattern: string
  /** OTA_RELEASE_BRANCH */
  releaseBranch: string
  /** OTA_GIT_DIR: a clone or bare mirror of the firmware repository; without it only forms are checked. */
  gitDir?: string
}

export type ProvenanceCheck = 'tag_pattern' | 'tag_name' | 'commit_form' | 'tag_exists' | 'tag_commit' | 'branch_exists' | 'on_branch' | 'git_unavailable'

export type ProvenanceResult =
  | { ok: true; provenance: 'verified' | 'attested' }
  | { ok: false; check: ProvenanceCheck; message: string }

const short = (commit: string) => commit.slice(0, 7) + '…'

/**
 * Checks that a release comes from a release tag on the release branch. With a repository: the tag
 * exists, points at `commit`, and `commit` is reachable from the branch → `verified`. Without one,
 * only the forms are checked and the signed statement vouches for the rest → `attested`.
 */
export async function checkProvenance(claim: { tag: string; commit: string }, settings: ProvenanceSettings): Promise<ProvenanceResult> {
  const { tag, commit } = claim
  const fail = (check: ProvenanceCheck, message: string): ProvenanceResult => ({ ok: false, check, message })
  if (!matchesTagPattern(tag, settings.tagPattern)) {
    return fail('tag_pattern', `tag "${tag}" does not match the release tag pattern "${settings.tagPattern}": only builds of a release tag are published; tag the commit accordingly`)
  }
  const nameProblem = tagNameProblem(tag)
  if (nameProblem) return fail('tag_name', nameProblem)
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    return fail('commit_form', `commit "${commit}" is not 40 lowercase hex: give the full commit id, e.g. from \`git rev-parse ${tag}^{commit}\``)
  }
  if (settings.gitDir === undefined) return { ok: true, provenance: 'attested' }

  const repo = settings.gitDir
  const branch = settings.releaseBranch
  try {
    const { tagCommit: tagged, branchRefs } = await tagAndBranchRefs(repo, tag, branch)
    if (tagged === undefined) {
      return fail('tag_exists', `tag ${tag} does not exist in the firmware repository: push it (\`git push origin ${tag}\`) and, if the server reads a mirror, wait for the mirror to fetch it`)
    }
    if (tagged !== commit) {
      return fail('tag_commit', `tag ${tag} points at ${tagged}, not at ${commit}: build and sign the commit the tag points at, or fix the tag`)
    }
    const branchRef = branchRefs[0]
    if (branchRef === undefined) {
      return fail('branch_exists', `the firmware repository has no release branch ${branch} (neither refs/heads/${branch} nor refs/remotes/origin/${branch}): push it, or ask the operator to check OTA_RELEASE_BRANCH`)
    }
    if (!(await isReachableFromBranch(repo, commit, branchRef))) {
      return fail('on_branch', `commit ${short(commit)} is not on ${branch}: promote it with \`git push origin ${commit}:${branch}\`, then publish again`)
    }
    return { ok: true, provenance: 'verified' }
  } catch (err) {
    if (err instanceof GitError) {
      return fail('git_unavailable', `the server could not check the firmware repository (${err.message}): ask the operator to check OTA_GIT_DIR`)
    }
    throw err
  }
}
