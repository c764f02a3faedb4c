/**
 * Waits until `condition` holds, checking every 20 ms, for at most `ms`; resolves to whether it
 * came true. For what a real process or socket does in its own time: never a fixed sleep.
 */
export async function until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}
