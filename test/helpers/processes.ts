import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import * as path from 'node:path'

/** The built CLI (npm test builds first), as a user runs it. */
export const BIN = path.resolve('bin/run.js')

export interface RunningCli {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** exit code and signal, once the process has exited and every holder of its stdout and stderr (its workers too) closed them */
  closed: Promise<{code: number | null; signal: NodeJS.Signals | null}>
}

/** `getok args…` started in the background; `group`: in a process group of its own, so that a signal can reach it all as Ctrl-C does. */
export function startCli(args: string[], group = false): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], detached: group})
  let [out, err] = ['', '']
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (err += d))
  const closed = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
    child.on('close', (code, signal) => resolve({code, signal})),
  )
  return {child, stdout: () => out, stderr: () => err, closed}
}

/** Process ids whose parent is `pid` (a run's worker processes). */
export const childrenOf = (pid: number): number[] =>
  spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], {encoding: 'utf8'})
    .stdout.split('\n')
    .map((s) => Number(s.trim()))
    .filter((p) => p > 0)

/** Still running: a process that exited but was not reaped yet (a zombie, state Z) is not. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

export async function waitFor(test: () => boolean, ms: number, step = 10): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, step))) if (test()) return true
  return test()
}

/** A file of `dir` whose name ends with `suffix` exists (a shard's `.journal`, a finished shard's `.stats.json`). */
export const hasFile = (dir: string, suffix: string) => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith(suffix))
