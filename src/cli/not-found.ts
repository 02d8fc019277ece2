/**
 * oclif's command_not_found hook (package.json oclif.hooks): `getok bogus` is one line and exit 2 like
 * any user error, and with --json also the {"error"} object on stdout (oclif printed its own text, and
 * nothing on stdout). The error thrown carries the exit code and tells oclif it was printed already.
 */
import type {Hook} from '@oclif/core'

const hook: Hook<'command_not_found'> = async function ({id, argv}) {
  const message = `${id}: no such command (see getok --help)`
  process.stderr.write(`Error: ${message}\n`)
  if (argv?.includes('--json')) process.stdout.write(JSON.stringify({error: {message, exitCode: 2}}, null, 2) + '\n')
  throw Object.assign(new Error(message), {skipOclifErrorHandling: true, oclif: {exit: 2}})
}

export default hook
