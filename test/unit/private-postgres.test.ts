/**
 * The private PostgreSQL server the logical-replication tests start (and `bench:cdc --private`):
 * when the machine has no server binaries, the failure says which are missing, where they were
 * looked for and what to install, and does not send the reader to DATABASE_URL (those tests start
 * their own server whatever it says).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MissingServiceError, startPrivatePostgres } from '../services/services.js'

const empty = mkdtempSync(join(tmpdir(), 'tiercache-no-pg-'))
const initdbOnly = mkdtempSync(join(tmpdir(), 'tiercache-initdb-only-'))
writeFileSync(join(initdbOnly, 'initdb'), '')
afterAll(() => {
  rmSync(empty, { recursive: true, force: true })
  rmSync(initdbOnly, { recursive: true, force: true })
})

async function failure(options: Parameters<typeof startPrivatePostgres>[0]): Promise<Error> {
  return startPrivatePostgres(options).then(async (started) => {
    await started.stop()
    throw new Error('a server started')
  }, (error: unknown) => error as Error)
}

describe('startPrivatePostgres without the server binaries', () => {
  it('names what is missing, where it looked and what to install', async () => {
    const error = await failure({ what: 'the wal_level=logical server', binDirs: [empty] })
    expect(error).toBeInstanceOf(MissingServiceError)
    expect(error.message).toBe(`the wal_level=logical server cannot be started: no initdb or postgres binary was found in ${empty}. ` +
      'Install the PostgreSQL server, version 15 or newer (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql).')
  })

  it('names only the binary that is missing', async () => {
    const error = await failure({ binDirs: [empty, initdbOnly] })
    expect(error).toBeInstanceOf(MissingServiceError)
    expect(error.message).toContain('a private PostgreSQL server cannot be started: no postgres binary was found')
    expect(error.message).not.toContain('DATABASE_URL')
  })
})
