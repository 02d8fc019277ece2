import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import * as path from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, describe, expect, it} from 'vitest'
import {LOCK_FILE, lockFolder, readerRefusal} from '../../src/adapters/out-lock.js'
import {withOutFolder} from '../../src/pipeline/shared/out-dir.js'
import {tempDirs} from '../helpers/temp-dirs.js'

const tmp = tempDirs('getok-lock')
const lockOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8'))
// a child process that takes the lock through the built module (CLI tests use dist too), then ends as told
const BUILT = pathToFileURL(path.resolve('dist/src/adapters/out-lock.js')).href
const childTakes = (dir: string, end: string) =>
  spawnSync('node', [
    '-e',
    `import(${JSON.stringify(BUILT)}).then((m) => m.lockFolder(${JSON.stringify(dir)}, 'curate')).then(() => {${end}})`,
  ])

const holders: ReturnType<typeof spawn>[] = []
afterAll(() => holders.forEach((h) => h.kill('SIGKILL')))

describe('the output folder lock', () => {
  it('is held once: a second taker, even in this process, is refused naming the holder; released, it can be taken again', async () => {
    const dir = tmp()
    const lock = await lockFolder(dir, 'offsets')
    expect(lockOf(dir)).toMatchObject({pid: process.pid, hostname: hostname(), command: 'offsets'})
    expect(readdirSync(dir)).toEqual([LOCK_FILE]) // no temporary file beside it
    await expect(lockFolder(dir, 'merge')).rejects.toThrow(
      new RegExp(
        `^${dir}: in use by getok offsets \\(pid ${process.pid}, since \\d\\d:\\d\\d:\\d\\d\\); wait for it or use another --out$`,
      ),
    )
    await lock.release()
    expect(readdirSync(dir)).toEqual([])
    await (await lockFolder(dir, 'merge')).release()
  })

  it('kill -9 leaves it behind and the next run takes it over; a process that exits with process.exit leaves none', async () => {
    const dir = tmp()
    const killed = childTakes(dir, "process.kill(process.pid, 'SIGKILL')")
    expect(killed.signal).toBe('SIGKILL')
    expect(lockOf(dir)).toMatchObject({pid: killed.pid, command: 'curate'})
    const lock = await lockFolder(dir, 'offsets')
    expect(lockOf(dir).pid).toBe(process.pid)
    await lock.release()
    const exited = childTakes(dir, 'process.exit(3)')
    expect(exited.status).toBe(3)
    expect(readdirSync(dir)).toEqual([])
  })

  it('is stale when its pid now names another process (Linux: another start time), or it stays unreadable', async () => {
    const dir = tmp()
    const other = spawn('node', ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
    holders.push(other)
    const live = {pid: other.pid, hostname: hostname(), command: 'curate', started: new Date().toISOString()}
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(live))
    await expect(lockFolder(dir, 'offsets')).rejects.toThrow(/in use by getok curate/)
    if (existsSync('/proc/self/stat')) {
      writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({...live, start_ticks: 1})) // the pid's process began later
      await (await lockFolder(dir, 'offsets')).release()
    }
    writeFileSync(path.join(dir, LOCK_FILE), '') // cut: its holder cannot be told
    await expect(lockFolder(dir, 'offsets')).rejects.toThrow(/in use by another getok run/)
    utimesSync(path.join(dir, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    await (await lockFolder(dir, 'offsets')).release()
    expect(readdirSync(dir)).toEqual([])
  })

  it('withOutFolder: removes what killed writes left, keeps the rest, releases however it ends, drops a folder it made empty', async () => {
    const dir = tmp()
    const left = ['a.png.tmp-123', 'swift-train.jsonl.tmp-123', 'vocab.txt.tmp-9', 'eval.jsonl.tmp-9', '.getok.lock.tmp-999999999']
    const kept = ['a.png', 'notes.tmp-1', 'b.png.tmp-x', 'curate-00000-of-00001.journal']
    for (const f of [...left, ...kept]) writeFileSync(path.join(dir, f), '')
    const seen = await withOutFolder(dir, 'inspect', async () => readdirSync(dir).sort())
    expect(seen).toEqual([LOCK_FILE, ...kept].sort())
    expect(readdirSync(dir).sort()).toEqual([...kept].sort())
    const made = path.join(tmp(), 'a', 'b')
    await expect(
      withOutFolder(made, 'merge', async () => {
        throw new Error('bad input')
      }),
    ).rejects.toThrow('bad input')
    expect(existsSync(path.dirname(made))).toBe(false)
    mkdirSync(made, {recursive: true})
    writeFileSync(path.join(made, LOCK_FILE), JSON.stringify({pid: process.pid + 1, hostname: 'elsewhere', command: 'x', started: ''}))
    await expect(withOutFolder(made, 'merge', async () => 1)).rejects.toThrow(/^--out, .*\/a\/b: in use by getok x on host elsewhere/)
  })
})

describe("readerRefusal: a run reading another run's folder", () => {
  const lockText = (holder: object) =>
    JSON.stringify({hostname: hostname(), command: 'curate', started: new Date().toISOString(), ...holder})

  it("names a live holder; a dead one, none, a file and this process's own lock are no refusal, and nothing is written", async () => {
    const dir = tmp()
    expect(await readerRefusal(dir)).toBeUndefined() // no lock
    expect(await readerRefusal(path.join(dir, 'nowhere'))).toBeUndefined()
    writeFileSync(path.join(dir, 'shard.jsonl'), '')
    expect(await readerRefusal(path.join(dir, 'shard.jsonl'))).toBeUndefined() // a file, not a folder (ENOTDIR)

    const live = spawn('sleep', ['600'], {stdio: 'ignore'})
    holders.push(live)
    writeFileSync(path.join(dir, LOCK_FILE), lockText({pid: live.pid}))
    const refusal = await readerRefusal(dir)
    expect(refusal?.text).toMatch(
      new RegExp(
        `^${dir}: being written by getok curate \\(pid ${live.pid}, since \\d\\d:\\d\\d:\\d\\d\\); wait for it to finish, then rerun$`,
      ),
    )

    const gone = spawnSync('node', ['-e', '']).pid
    const stale = lockText({pid: gone})
    writeFileSync(path.join(dir, LOCK_FILE), stale)
    expect(await readerRefusal(dir)).toBeUndefined()
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toBe(stale) // left as it was: a reader takes nothing over
    expect(readdirSync(dir).sort()).toEqual([LOCK_FILE, 'shard.jsonl'])

    const own = tmp()
    const lock = await lockFolder(own, 'eval')
    expect(await readerRefusal(own)).toBeUndefined() // a run reading its own --out
    await lock.release()
  })

  it("another host's lock is live, naming the host and the file to remove; an unreadable one made a moment ago too", async () => {
    const dir = tmp()
    const other = {pid: 1, hostname: 'n07', command: 'offsets', started: '2025-01-02T03:04:05Z'}
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(other))
    const text = (await readerRefusal(dir))?.text
    expect(text).toContain(`${dir}: being written by getok offsets on host n07 (pid 1, since 2025-01-0`)
    expect(text).toContain(`wait for it to finish, then rerun, or remove ${path.join(dir, LOCK_FILE)} once that run is over`)
    writeFileSync(path.join(dir, LOCK_FILE), '')
    expect((await readerRefusal(dir))?.text).toBe(
      `${dir}: being written by another getok run (its lock was made a moment ago); wait for it to finish, then rerun`,
    )
    utimesSync(path.join(dir, LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
    expect(await readerRefusal(dir)).toBeUndefined()
    expect(readdirSync(dir)).toEqual([LOCK_FILE])
  })
})
