// tap puts its process-info loader into NODE_OPTIONS of every process a test starts, whatever
// environment the test gives it (@tapjs/processinfo wraps child_process). In a Node process that
// loader costs about 0.6 s of CPU, more than the server's own start, and it is not how users run
// ota-gate. `/usr/bin/env -u NODE_OPTIONS` takes it out before the program starts.

/** The command and arguments that start `program args…` without tap's loader in its NODE_OPTIONS. */
export function uninstrumented(program: string, args: readonly string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', program, ...args]]
}
