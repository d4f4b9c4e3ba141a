import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

it('tiercache/cdn loads the cloud SDKs on the first purge request, not on import or construction', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/fixtures/cdn-lazy-load.ts'], { cwd: root, encoding: 'utf8' })
  expect(out.trim()).toBe('lazy until the first purge')
})
