/**
 * One getok run at a time per output folder. A run that writes a folder (curate, offsets, eval, export,
 * merge, inspect) holds `<out>/.getok.lock` from before it reads or removes anything there until it ends:
 *
 *   {"pid":4242,"hostname":"n07","command":"offsets","started":"2025-12-08T12:01:02.000Z","boot":"…","start_ticks":123}
 *
 * - Taken: the file appears whole and only if it is not there (a hard link of a written temporary file,
 *   exclusive like O_EXCL; O_EXCL itself where hard links fail), so of two runs starting at once exactly one makes it.
 *   The other reads who holds it and stops with one line, having touched nothing:
 *   `in use by getok offsets (pid 4242, since 12:01:02); wait for it or use another --out`.
 * - Released: removed when the run ends, normally or by an error, and at process exit (a run ended
 *   by process.exit). A kill -9 (or a signal Node dies of) leaves it behind, harmlessly:
 * - Stale: a lock made on this host whose process is gone (no such pid; or the pid now names another
 *   process, which Linux' boot id and the process's start time in /proc tell), or whose content stays
 *   unreadable for 10 s, is taken over without a word. Taking over moves the file aside first (rename, atomic),
 *   deletes it only if the moved file is the stale one read before, and then makes a new one as above,
 *   so two runs taking over at once cannot both win.
 * - Another host: a lock made elsewhere (a folder on NFS shared by Slurm nodes or containers) cannot be
 *   checked, so it counts as live, even under --overwrite (which job scripts pass routinely); the
 *   message names the host and the file to remove once that run is over.
 *
 * The lock is one process's: `--workers N` children write nothing in --out and take none; the workers of a
 * sharded run (--shard-index) each have their own --out. Within one process a folder is held once.
 *
 * A run that reads another run's folder (export --curated, offsets --curated, merge's inputs, …) asks
 * readerRefusal: by the same rules a live holder stops it (`being written by getok curate (pid 4242, since
 * 12:01:02); wait for it to finish, then rerun`); a stale lock is left as it is (a reader writes nothing there).
 */
import {readFileSync, unlinkSync} from 'node:fs'
import {link, open, readFile, readdir, rename, rm, stat, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import * as path from 'node:path'
import {GetokError, errorCode} from '../core/errors.js'

export const LOCK_FILE = '.getok.lock'

export interface LockHolder {
  pid: number
  hostname: string
  command: string
  started: string
  /** Linux: /proc/sys/kernel/random/boot_id when the lock was made */
  boot?: string
  /** Linux: the process's start time (/proc/<pid>/stat, clock ticks since boot) */
  start_ticks?: number
}

export interface FolderLock {
  readonly file: string
  /** Removes the lock if it is still this run's; never throws. */
  release(): Promise<void>
}

/** An unreadable lock younger than this may be one whose line is being written (createExclusive). */
const UNREADABLE_STALE_MS = 10_000

/** Lock files this process holds, with their text: removed at exit if a run did not release them. */
const held = new Map<string, string>()
let exitHook = false

/** Takes `dir`'s lock (the folder must exist) for `command`; a GetokError naming the holder when it is in use. */
export async function lockFolder(dir: string, command: string): Promise<FolderLock> {
  const file = path.join(path.resolve(dir), LOCK_FILE)
  const text = JSON.stringify(holderHere(command)) + '\n'
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await create(file, text)) {
      hold(file, text)
      await removeDeadAsides(dir)
      return {file, release: () => release(file, text)}
    }
    const found = await readLock(file)
    if (found === undefined) continue // released meanwhile
    if (!isStale(found, file)) throw heldBy(dir, file, found.holder, 'in use', 'wait for it or use another --out')
    await takeOver(file, found.text)
  }
  throw new GetokError('cannot take the folder lock: other runs keep taking it; use another --out', {file})
}

/**
 * For a run that reads `dir` and writes nothing there: the GetokError naming the live run writing it (another
 * host's counts as live), or undefined: no lock, a stale one (neither removed nor taken over), or this process's.
 */
export async function readerRefusal(dir: string): Promise<GetokError | undefined> {
  const file = path.join(path.resolve(dir), LOCK_FILE)
  const found = await readLock(file)
  if (!found || held.get(file) === found.text || isStale(found, file)) return undefined
  return heldBy(dir, file, found.holder, 'being written', 'wait for it to finish, then rerun')
}

/** Who is making a lock here, now. */
function holderHere(command: string): LockHolder {
  const boot = readProc('/proc/sys/kernel/random/boot_id')?.trim()
  const ticks = startTicks(process.pid)
  return {
    pid: process.pid,
    hostname: hostname(),
    command,
    started: new Date().toISOString(),
    ...(boot ? {boot} : {}),
    ...(ticks !== undefined ? {start_ticks: ticks} : {}),
  }
}

/**
 * true: made; false: a lock is there already. The line is written to `.getok.lock.tmp-<pid>` first and
 * hard-linked to the lock's name (link fails when the name exists, like O_EXCL), so a lock is never seen
 * without its holder; where the file system has no hard links, O_EXCL and then the line.
 */
async function create(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.tmp-${process.pid}`
  try {
    await writeFile(tmp, text)
    await link(tmp, file)
    return true
  } catch (error) {
    const code = errorCode(error)
    if (code === 'EEXIST') return false
    if (NO_LINKS.has(code)) return createExclusive(file, text)
    throw new GetokError(`cannot make the folder lock (${code})`, {file})
  } finally {
    await rm(tmp, {force: true})
  }
}

/** link(2) errors of file systems without hard links (FAT, some FUSE and SMB mounts) */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

async function createExclusive(file: string, text: string): Promise<boolean> {
  let handle
  try {
    handle = await open(file, 'wx')
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false
    throw new GetokError(`cannot make the folder lock (${errorCode(error)})`, {file})
  }
  try {
    await handle.writeFile(text)
  } catch (error) {
    await handle.close().catch(() => {})
    await rm(file, {force: true})
    throw new GetokError(`cannot write the folder lock (${errorCode(error)})`, {file})
  }
  await handle.close()
  return true
}

/** The lock's text, holder (none: unreadable) and age; undefined when there is no lock. */
async function readLock(file: string): Promise<{text: string; holder?: LockHolder; ageMs: number} | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)])
    return {text, holder: parseHolder(text), ageMs: Date.now() - info.mtimeMs}
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return undefined // ENOTDIR: a reader's path is a file
    throw new GetokError(`cannot read the folder lock (${errorCode(error)})`, {file})
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as LockHolder
    return Number.isInteger(v?.pid) && v.pid > 0 && typeof v.hostname === 'string' ? v : undefined
  } catch {
    return undefined
  }
}

/** A lock no live process holds: see the header. Another host's is never stale. */
function isStale({holder, ageMs}: {holder?: LockHolder; ageMs: number}, file: string): boolean {
  // unreadable: cut by a crash (or made without hard links, its line still to come for a moment)
  if (!holder) return ageMs > UNREADABLE_STALE_MS
  if (holder.hostname !== hostname()) return false
  if (holder.pid === process.pid) return !held.has(file) // an earlier process had our pid
  if (!isAlive(holder.pid)) return true
  const boot = readProc('/proc/sys/kernel/random/boot_id')?.trim()
  if (holder.boot && boot && holder.boot !== boot) return true
  const ticks = startTicks(holder.pid)
  return holder.start_ticks !== undefined && ticks !== undefined && ticks !== holder.start_ticks
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' // alive, another user's
  }
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function startTicks(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields?.[19])
  return Number.isSafeInteger(ticks) ? ticks : undefined
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}

/** Move the stale lock aside; delete it if it is the one judged stale, else put it back (another run took over first). */
async function takeOver(file: string, staleText: string): Promise<void> {
  const aside = `${file}.tmp-${process.pid}`
  try {
    await rename(file, aside)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return // gone: try again
    throw new GetokError(`cannot replace a stale folder lock (${errorCode(error)})`, {file})
  }
  const moved = await readFile(aside, 'utf8').catch(() => undefined)
  if (moved !== undefined && moved !== staleText) await rename(aside, file).catch(() => {})
  else await rm(aside, {force: true})
}

/** A stale lock moved aside by a run killed before it deleted it (`.getok.lock.tmp-<pid>`, that pid gone). */
async function removeDeadAsides(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  for (const f of names) {
    const pid = Number(/^\.getok\.lock\.tmp-(\d+)$/.exec(f)?.[1])
    if (pid > 0 && pid !== process.pid && !isAlive(pid)) await rm(path.join(dir, f), {force: true})
  }
}

/** `<state> by getok offsets (pid 4242, since 12:01:02); <advice>`; another host's names the file to remove once its run is over. */
function heldBy(dir: string, file: string, holder: LockHolder | undefined, state: string, advice: string): GetokError {
  if (!holder) return new GetokError(`${state} by another getok run (its lock was made a moment ago); ${advice}`, {file: dir})
  const by = `getok ${holder.command}`
  const when = `pid ${holder.pid}, since ${shownTime(holder.started)}`
  if (holder.hostname === hostname()) return new GetokError(`${state} by ${by} (${when}); ${advice}`, {file: dir})
  return new GetokError(
    `${state} by ${by} on host ${holder.hostname} (${when}), which cannot be checked from here; ` +
      `${advice}, or remove ${file} once that run is over`,
    {file: dir},
  )
}

/** 12:01:02 today, 2025-12-07 12:01:02 another day (local time). */
function shownTime(iso: string): string {
  const t = new Date(iso)
  if (Number.isNaN(t.getTime())) return String(iso)
  const p = (v: number) => String(v).padStart(2, '0')
  const day = `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}`
  const time = `${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`
  const today = new Date()
  return day === `${today.getFullYear()}-${p(today.getMonth() + 1)}-${p(today.getDate())}` ? time : `${day} ${time}`
}

function hold(file: string, text: string): void {
  held.set(file, text)
  if (exitHook) return
  exitHook = true
  process.on('exit', () => {
    for (const [f, t] of held) removeIfOurs(f, t)
  })
}

async function release(file: string, text: string): Promise<void> {
  if (held.get(file) !== text) return
  held.delete(file)
  removeIfOurs(file, text)
}

function removeIfOurs(file: string, text: string): void {
  try {
    if (readFileSync(file, 'utf8') === text) unlinkSync(file)
  } catch {
    // gone already, or the folder with it
  }
}
