import {existsSync, readFileSync} from 'node:fs'

// src/version.ts runs from the source tree (tests) and from dist/src (the CLI).
const file = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((u) => existsSync(u))!
const pkg = JSON.parse(readFileSync(file, 'utf8')) as {name: string; version: string}

/** Tool identity written into every manifest. */
export const TOOL = {name: pkg.name, version: pkg.version}
