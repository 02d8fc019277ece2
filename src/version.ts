import {existsSync, readFileSync} from 'node:fs'

// src/version.ts runs from the source tree (tests) and from dist/src (the CLI).
const places = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)]
const file = places.find((u) => existsSync(u))
// Node resolves import.meta.url through links, so a dist/ linked in from elsewhere lands here.
if (!file)
  throw new Error(
    `getok cannot find its package.json at ${places.map((u) => u.pathname).join(' or ')} ` +
      '(is dist/ a link to a folder outside the package?)',
  )
const pkg = JSON.parse(readFileSync(file, 'utf8')) as {name: string; version: string}

/** Tool identity written into every manifest. */
export const TOOL = {name: pkg.name, version: pkg.version}
