/** Resolves when `work` settles or after `ms`, whichever comes first (a failure counts as settled). */
export function waitBounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([work.then(() => {}, () => {}), new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })]).finally(() => clearTimeout(timer))
}
