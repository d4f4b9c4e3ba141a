/**
 * The command line as a careless or hostile user types it: misspelt flags, ports that are not
 * ports, values missing, the help and version flags in every place people try them. Every refusal
 * is one line on stderr naming the flag and what to do, exit code 2; never a stack trace.
 */
import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { hasStack, root, run, stopAll } from './cli-process.js'

const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string }
afterEach(stopAll)

/** Asserts a usage error: exit 2, nothing on stdout, one line on stderr holding every `needle`. */
async function refused(args: string[], ...needles: string[]): Promise<string> {
  const { code, out, err } = await run(args, { TIERCACHE_PURGE_TOKEN: 'cli-usage-token-0123456789' })
  expect({ args, code, out }).toEqual({ args, code: 2, out: '' })
  expect(hasStack(err), err).toBe(false)
  expect(err.trimEnd().split('\n'), err).toHaveLength(1)
  for (const needle of needles) expect(err).toContain(needle)
  return err
}

describe('tiercache help and version', () => {
  it.each(['--version', '-v', 'version', 'start --version', 'start -v', 'purge --version', 'purge -v', 'edge --version',
    'edge -v', 'version --version', 'start --port 1 -v'])('tiercache %s prints the version', async (line) => {
    expect(await run(line.split(' '))).toMatchObject({ code: 0, out: `${version}\n`, err: '' })
  })

  it.each(['--help', '-h', 'help'])('tiercache %s lists every command', async (flag) => {
    const { code, out, err } = await run([flag])
    expect({ code, err }).toEqual({ code: 0, err: '' })
    for (const name of ['start', 'purge', 'edge', 'version']) expect(out).toMatch(new RegExp(`^ +${name} `, 'm'))
    expect(out).toContain('--version')
  })

  it.each(['start', 'purge', 'version', 'edge'])('tiercache %s --help, -h and help <command> print its usage', async (name) => {
    for (const args of [[name, '--help'], [name, '-h'], ['help', name]]) {
      const { code, out, err } = await run(args)
      expect({ args, code, err }).toEqual({ args, code: 0, err: '' })
      expect(out).toMatch(new RegExp(`^usage: tiercache ${name}`))
    }
  })

  it('no command at all is a usage error listing the commands on stderr', async () => {
    const { code, out, err } = await run([])
    expect({ code, out }).toEqual({ code: 2, out: '' })
    expect(err).toContain('usage: tiercache <command>')
    expect(hasStack(err)).toBe(false)
  })
})

describe('tiercache refuses bad input in one line, exit code 2', () => {
  it('an unknown command', async () => {
    await refused(['strat'], 'unknown command "strat"', 'did you mean start', 'tiercache --help')
  })

  it('an unknown option names it and the closest one', async () => {
    await refused(['start', '--prot', '9000'], '--prot', 'did you mean --port', 'tiercache start --help')
    await refused(['start', '--database', 'x'], '--database', 'tiercache start --help')
    await refused(['purge', '--tagg', 'x'], '--tagg', 'did you mean --tag', 'tiercache purge --help')
    await refused(['version', '--short'], '--short', 'tiercache version --help')
  })

  it.each(['abc', '', '-1', '65536', '99999', '1.5', '0x50', '1e3', ' 80', '80 ', '+80', '8080abc'])('a port that is not 0..65535: %j', async (bad) => {
    await refused(['start', `--app-port=${bad}`], '--app-port', '0 to 65535', JSON.stringify(bad))
    await refused(['start', `--port=${bad}`], '--port', '0 to 65535', JSON.stringify(bad))
  })

  it('PORT from the environment is checked like --port and named as PORT', async () => {
    const { code, err } = await run(['start'], { PORT: 'http' })
    expect(code).toBe(2)
    expect(err.trimEnd().split('\n')).toHaveLength(1)
    expect(err).toContain('PORT')
    expect(err).toContain('"http"')
  })

  it.each(['abc', '-5', '0', '1.5', '100000000000'])('a product count that is not 1..1000000: %j', async (bad) => {
    await refused(['start', `--products=${bad}`], '--products', JSON.stringify(bad))
  })

  it('a missing value, a value given to a switch, a stray argument', async () => {
    await refused(['start', '--port'], '--port', 'needs a value')
    await refused(['start', '--port', '--app-port', '3001'], '--port', 'needs a value')
    await refused(['purge', '--soft=yes', '--tag', 'x'], '--soft', 'takes no value')
    await refused(['start', 'now'], 'unexpected argument "now"')
    await refused(['version', 'now'], 'unexpected argument "now"')
  })

  it('purge: an edge that is not an http URL, an empty tag', async () => {
    await refused(['purge', '--tag', 'x', '--edge', 'notaurl'], '--edge', 'http://')
    await refused(['purge', '--tag', 'x', '--edge', 'ftp://x'], '--edge', '"ftp://x"')
    await refused(['purge', '--tag='], '--tag', 'empty')
  })

  it('an empty host', async () => {
    await refused(['start', '--host='], '--host')
  })

  it('edge: an unknown option, a missing origin, ports that are not ports, empty values', async () => {
    const origin = ['--origin', 'http://127.0.0.1:1']
    await refused(['edge', '--prot', '9000', ...origin], '--prot', 'did you mean --port', 'tiercache edge --help')
    await refused(['edge'], '--origin is required', 'tiercache edge --help')
    for (const bad of ['', 'abc', '0x50', '1e3', ' 80', '65536']) {
      await refused(['edge', ...origin, `--port=${bad}`], '--port', '0 to 65535', JSON.stringify(bad))
      await refused(['edge', ...origin, `--admin-port=${bad}`], '--admin-port', '0 to 65535', JSON.stringify(bad))
    }
    await refused(['edge', '--origin='], '--origin', 'must not be empty')
    await refused(['edge', ...origin, '--workers=1.5'], '--workers', JSON.stringify('1.5'))
    await refused(['edge', ...origin, 'now'], 'unexpected argument "now"')
  })
})
