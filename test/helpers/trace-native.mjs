// Preloaded with `node --import`: records on stderr every native runtime the process loads, so a
// test can tell that a command ran without onnxruntime-node or sharp.
import {register} from 'node:module'

register(
  'data:text/javascript,' +
    encodeURIComponent(`
const NATIVE = /^(onnxruntime-node|onnxruntime-common|sharp)(\\/|$)/
export async function resolve(specifier, context, next) {
  if (NATIVE.test(specifier)) process.stderr.write('getok-trace: loaded ' + specifier + '\\n')
  return next(specifier, context)
}`),
)
