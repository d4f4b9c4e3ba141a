import { parseCommandLine } from '../parse-command-line.js'
import { tiercacheVersion } from '../version.js'

const HELP = `usage: tiercache version

Prints the installed tiercache version (also: tiercache --version, tiercache -v).`

/** `tiercache version`: prints the version. */
export function run(args: string[]): Promise<number> {
  if (parseCommandLine({ command: 'version', help: HELP, options: {} }, args) !== undefined) console.log(tiercacheVersion())
  return Promise.resolve(0)
}
