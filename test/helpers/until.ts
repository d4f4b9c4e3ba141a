/**
 * Polls `check` until it holds, then resolves; rejects naming `what` after `timeoutMs`. For effects
 * that arrive on their own schedule (a bus message, a failover), never as a timing assertion.
 */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await Promise.resolve(check()).catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs}ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
