import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'

// `npm test` runs the groups in test/groups/, not the test files themselves: a file that no group
// imports would never run, and one that two groups import would run twice.

const TESTS = __dirname
const GROUPS = path.join(TESTS, 'groups')
const IMPORT = /^import '\.\.\/([\w-]+\.test)'$/

t.test('every test file is in exactly one test group, and groups import nothing else', async (t) => {
  const files = fs.readdirSync(TESTS).filter((f) => f.endsWith('.test.ts')).map((f) => f.slice(0, -'.ts'.length))
  const groupOf = new Map<string, string[]>()
  for (const group of fs.readdirSync(GROUPS).filter((f) => f.endsWith('.ts'))) {
    const lines = fs.readFileSync(path.join(GROUPS, group), 'utf8').split('\n')
    const code = lines.filter((l) => l.trim() !== '' && !l.startsWith('//'))
    t.same(code.filter((l) => !IMPORT.test(l)), [], `${group} holds only imports of test files`)
    for (const line of code) {
      const file = IMPORT.exec(line)?.[1]
      if (file) groupOf.set(file, [...(groupOf.get(file) ?? []), group])
    }
  }
  t.same(files.filter((f) => !groupOf.has(f)), [], 'no test file is left out of the groups')
  t.same([...groupOf].filter(([, groups]) => groups.length > 1), [], 'no test file is in two groups')
  t.same([...groupOf.keys()].filter((f) => !files.includes(f)), [], 'every import names a test file that exists')
})
