import { DEFAULT_RELEASE_BRANCH, DEFAULT_TAG_PATTERN } from '../config'
import { branchNameProblem } from '../release/git'
import { flag, type FlagValues } from './flags'
import { UsageError, type CliIo } from './io'

/**
 * Which tags release and which branch they must be on, for the commands that read a firmware
 * repository (`release publish`, `ledger import`): the flag, else the server's setting's name in
 * the environment, else the default. A branch git cannot have is a usage error, before git runs.
 */
export function releaseRules(values: FlagValues, io: Pick<CliIo, 'env'>): { tagPattern: string; branch: string } {
  const tagPattern = flag(values, 'tag-pattern') ?? io.env.OTA_TAG_PATTERN ?? DEFAULT_TAG_PATTERN
  const branch = flag(values, 'branch') ?? io.env.OTA_RELEASE_BRANCH ?? DEFAULT_RELEASE_BRANCH
  const problem = branchNameProblem(branch)
  if (problem) throw new UsageError(`the release branch (--branch or OTA_RELEASE_BRANCH): ${problem}`)
  return { tagPattern, branch }
}
