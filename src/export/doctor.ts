/**
 * Leftovers of runs that did not finish their teardown (killed with SIGKILL,
 * machine trouble): mounts, loop devices, processes and folders that tornlab
 * marked as its own (see ledger.ts). Only marked resources are ever listed or
 * released; resources of a run whose owning process is still alive are
 * active, not leftovers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, sleep } from './exec';
import { anonDeviceMounts } from './fuse-conn';
import { abortConnections } from './fusectl';
import { PLAIN_ROOT, RUNTIME_ROOT, TEMP_PREFIXES, isOurPath, pidAlive, readRunStates } from './ledger';
import { deviceHosts, markedProcesses, waitGone } from './processes';
import { cgroupAt, cgroupOwner, cgroupPids, isOurCgroup, killCgroup, ourCgroups, removeCgroup } from './cgroup';
import { docker, ourDaemonPid } from './containers/dockerd';
import { labelledContainers } from './containers/containers';

export interface Leftover {
  kind: 'process' | 'mount' | 'fuse-mount' | 'fuse-conn' | 'loop' | 'dir' | 'mount-dir' | 'container' | 'cgroup';
  id: string;
  runId: string;
  detail?: string;
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function currentMounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    const r = (right ?? '').split(' ');
    out.push({ mountPoint: unescapeMount(f[4]), fsType: r[0], source: unescapeMount(r[1] ?? '') });
  }
  return out;
}

export function loopDevices(): { dev: string; backingFile: string }[] {
  const out: { dev: string; backingFile: string }[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'));
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.push({ dev: `/dev/${n}`, backingFile: fs.readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim() });
    } catch {
      // not attached
    }
  }
  return out;
}

function runIdOfPath(p: string): string {
  for (const root of [RUNTIME_ROOT, PLAIN_ROOT]) {
    const rel = path.relative(root, p);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep)[0];
  }
  return '?';
}

/** True if the parent of device host `pid` is alive and not init (hosts are reparented when their orchestrator dies). */
function orchestratorAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid > 1 && pidAlive(ppid) && fs.existsSync(`/proc/${ppid}/cmdline`) && !/(^|\/)(init|tini|dumb-init)\0/.test(fs.readFileSync(`/proc/${ppid}/cmdline`, 'latin1'));
  } catch {
    return false;
  }
}

/** Run ids whose owner process is alive (their resources are in use, not left over). */
function activeRuns(exceptRun?: string): Set<string> {
  const s = new Set<string>();
  for (const st of readRunStates()) if (st.runId !== exceptRun && st.pid !== process.pid && pidAlive(st.pid)) s.add(st.runId);
  // This process's own run is never a leftover of itself.
  for (const st of readRunStates()) if (st.pid === process.pid) s.add(st.runId);
  return s;
}

/** Marked resources of runs that are no longer alive (optionally only of one run). */
export function listLeftovers(opts: { runId?: string } = {}): Leftover[] {
  const active = activeRuns(opts.runId);
  const keep = (runId: string) => !active.has(runId) && (opts.runId === undefined || runId === opts.runId);
  const out: Leftover[] = [];
  for (const p of markedProcesses()) if (keep(p.runId)) out.push({ kind: 'process', id: String(p.pid), runId: p.runId });
  // A device host still attached to a live orchestrator is in use, even if its run's folder is gone.
  for (const p of deviceHosts()) if (keep(p.runId) && !orchestratorAlive(p.pid)) out.push({ kind: 'process', id: String(p.pid), runId: p.runId, detail: 'device host' });
  for (const m of currentMounts()) {
    if (!isOurPath(m.mountPoint)) continue;
    const runId = runIdOfPath(m.mountPoint);
    if (!keep(runId)) continue;
    out.push({ kind: m.fsType.startsWith('fuse') ? 'fuse-mount' : 'mount', id: m.mountPoint, runId, detail: `${m.fsType} from ${m.source}` });
  }
  for (const l of loopDevices()) {
    const file = l.backingFile.replace(/ \(deleted\)$/, '');
    if (!isOurPath(file)) continue;
    const runId = runIdOfPath(file);
    if (keep(runId)) out.push({ kind: 'loop', id: l.dev, runId, detail: `backed by ${l.backingFile}` });
  }
  // Mounts a dead run recorded outside its folders (exec's bind mount at the user's directory):
  // ours only while the mount there still comes from the loop device the ledger names.
  const mounts = currentMounts();
  for (const st of readRunStates()) {
    if (!keep(st.runId)) continue;
    for (const r of st.resources) {
      if (r.kind !== 'mount' || isOurPath(r.id)) continue;
      const m = mounts.find((x) => x.mountPoint === path.resolve(r.id));
      if (m && m.source.startsWith('/dev/loop') && (r.note ?? '').endsWith(` from ${m.source}`)) {
        out.push({ kind: 'mount', id: m.mountPoint, runId: st.runId, detail: `${m.fsType} from ${m.source} (${r.note})` });
      }
    }
  }
  // FUSE connections recorded by dead runs. Abort one only if it cannot be someone else's:
  // no mount has its device number, or the mount that has it is one of ours.
  const anon = anonDeviceMounts();
  for (const st of readRunStates()) {
    if (!keep(st.runId)) continue;
    for (const r of st.resources) {
      if (r.kind !== 'fuse-conn') continue;
      const holder = anon.get(Number(r.id));
      if (holder !== undefined && !isOurPath(holder)) continue;
      out.push({ kind: 'fuse-conn', id: r.id, runId: st.runId, detail: `FUSE connection of ${r.note ?? '?'}` });
    }
  }
  // Containers a dead run recorded (on tornlab's own dockerd; labelled ones it never recorded: containerLeftovers).
  for (const st of readRunStates()) {
    if (!keep(st.runId)) continue;
    for (const r of st.resources) if (r.kind === 'container') out.push({ kind: 'container', id: r.id, runId: st.runId, detail: r.note });
  }
  for (const root of [RUNTIME_ROOT, PLAIN_ROOT]) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(root);
    } catch {
      continue;
    }
    for (const n of names) if (keep(n)) out.push({ kind: 'dir', id: path.join(root, n), runId: n });
  }
  // Folders a dead run created outside its roots (exec --mount): removed only while empty.
  for (const st of readRunStates()) {
    if (!keep(st.runId)) continue;
    for (const r of st.resources) if (r.kind === 'mount-dir' && fs.existsSync(r.id)) out.push({ kind: 'mount-dir', id: r.id, runId: st.runId, detail: r.note });
  }
  out.push(...cgroupLeftovers(keep));
  out.push(...tempLeftovers().filter((l) => opts.runId === undefined || l.runId === opts.runId));
  return out;
}

/**
 * tornlab's cgroups (cgroup.ts) whose owner process is gone: found in the
 * hierarchies and in dead runs' ledgers. The cgroup's name is its run id.
 */
function cgroupLeftovers(keep: (runId: string) => boolean): Leftover[] {
  const dirs = new Set(ourCgroups().map((c) => c.dir));
  for (const st of readRunStates()) for (const r of st.resources) if (r.kind === 'cgroup' && isOurCgroup(r.id) && fs.existsSync(r.id)) dirs.add(r.id);
  const out: Leftover[] = [];
  for (const dir of dirs) {
    const owner = cgroupOwner(dir)!;
    const runId = path.basename(dir);
    if (owner === process.pid || pidAlive(owner) || !keep(runId)) continue;
    const n = cgroupPids(dir).length;
    out.push({ kind: 'cgroup', id: dir, runId, detail: `cgroup of the run, ${n} process(es) in it` });
  }
  return out;
}

/**
 * A cheap count of dead runs' leftovers for a warning at the start of a run:
 * state files of runs whose owner is gone, and temp folders of dead
 * processes. Never reads other processes' /proc entries (one stuck in I/O
 * on a dead FUSE file system could block that read).
 */
export function deadRunTraces(): { runs: string[]; tempDirs: string[] } {
  const runs = readRunStates().filter((st) => st.pid !== process.pid && !pidAlive(st.pid)).map((st) => st.runId);
  return { runs, tempDirs: tempLeftovers().map((l) => l.id) };
}

/** Temp folders of dead processes (ledger.ts TEMP_PREFIXES: <prefix><pid>-XXXXXX); runId is `pid-<pid>`. */
export function tempLeftovers(): Leftover[] {
  const out: Leftover[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(os.tmpdir());
  } catch {
    return out;
  }
  for (const n of names) {
    for (const prefix of TEMP_PREFIXES) {
      const m = new RegExp(`^${prefix}(\\d+)-[A-Za-z0-9]{6}$`).exec(n);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) out.push({ kind: 'dir', id: path.join(os.tmpdir(), n), runId: `pid-${m[1]}`, detail: `temp folder of ${prefix === 'tornlab-plain-' ? 'plain-directory storage (--no-device)' : 'exec acknowledgements'}` });
    }
  }
  return out;
}

/** Labelled containers on tornlab's dockerd whose run is not alive (only when that daemon runs). */
export async function containerLeftovers(opts: { runId?: string } = {}, known: Leftover[] = []): Promise<Leftover[]> {
  if (ourDaemonPid() === undefined) return [];
  const active = activeRuns(opts.runId);
  const out: Leftover[] = [];
  for (const c of await labelledContainers()) {
    if (active.has(c.runId) || (opts.runId !== undefined && c.runId !== opts.runId)) continue;
    if (known.some((k) => k.kind === 'container' && (k.id.startsWith(c.id) || c.id.startsWith(k.id)))) continue;
    out.push({ kind: 'container', id: c.id, runId: c.runId, detail: `${c.image}, ${c.state}` });
  }
  return out;
}

/**
 * Release leftovers: kill processes, lazily unmount file systems, detach loop
 * devices, unmount FUSE file systems, remove folders. Returns what could not
 * be released (with the reason).
 */
export async function cleanupLeftovers(items: Leftover[]): Promise<Leftover[]> {
  const failed: Leftover[] = [];
  // First abort dead runs' FUSE connections: a process stuck in I/O on one can only die after that.
  const conns = items.filter((i) => i.kind === 'fuse-conn');
  if (conns.length > 0) {
    try {
      await abortConnections(
        conns.map((c) => Number(c.id)),
        path.join(RUNTIME_ROOT, `fusectl-${process.pid}`),
      );
    } catch (e) {
      for (const c of conns) failed.push({ ...c, detail: (e as Error).message });
    }
  }
  // Containers next (their processes hold the mounts); only on tornlab's own daemon.
  const containers = items.filter((i) => i.kind === 'container');
  if (containers.length > 0 && ourDaemonPid() !== undefined) {
    const r = await docker(['rm', '-f', ...containers.map((c) => c.id)], 60_000);
    if (r.code !== 0) for (const c of containers) if (!new RegExp(`No such container: ${c.id}`).test(r.stderr)) failed.push({ ...c, detail: r.stderr.trim() });
  }
  // Cgroups of dead runs: every member killed (frozen first), then the folder removed.
  for (const it of items.filter((i) => i.kind === 'cgroup')) {
    if (!isOurCgroup(it.id)) {
      failed.push({ ...it, detail: 'not a cgroup tornlab made; left alone' });
      continue;
    }
    const cg = cgroupAt(it.id);
    const left = await killCgroup(cg, 10_000);
    if (left.length > 0) failed.push({ ...it, detail: `process(es) ${left.join(', ')} still alive after SIGKILL (blocked in I/O?)` });
    else if (!removeCgroup(cg)) failed.push({ ...it, detail: 'could not be removed (busy)' });
  }
  const pids = items.filter((i) => i.kind === 'process').map((i) => Number(i.id));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const alive = await waitGone(pids, 10_000);
  for (const pid of alive) {
    const it = items.find((i) => i.kind === 'process' && i.id === String(pid));
    failed.push({ kind: 'process', id: String(pid), runId: it?.runId ?? '?', detail: 'still alive after SIGKILL (blocked in I/O?)' });
  }
  for (const kind of ['mount', 'loop', 'fuse-mount'] as const) {
    for (const it of items.filter((i) => i.kind === kind)) {
      const r = kind === 'loop' ? await run('losetup', ['-d', it.id], { timeoutMs: 30_000 }) : await run('umount', ['-l', it.id], { timeoutMs: 30_000 });
      if (r.code !== 0 && !/not mounted|No such device/.test(r.stderr)) failed.push({ ...it, detail: r.stderr.trim() });
    }
  }
  // Give autoclear a moment, then remove folders that no longer hold a mount.
  await sleep(50);
  const mounted = currentMounts().map((m) => m.mountPoint);
  for (const it of items.filter((i) => i.kind === 'dir')) {
    // Keep the state file of a run not fully released: a later doctor needs what it records.
    if (failed.some((f) => f.runId === it.runId)) {
      failed.push({ ...it, detail: 'kept: other resources of this run could not be released' });
      continue;
    }
    if (mounted.some((m) => m === it.id || m.startsWith(it.id + '/'))) {
      failed.push({ ...it, detail: 'still holds a mount' });
      continue;
    }
    fs.rmSync(it.id, { recursive: true, force: true });
  }
  for (const it of items.filter((i) => i.kind === 'mount-dir')) {
    try {
      if (!mounted.includes(it.id)) fs.rmdirSync(it.id);
      else failed.push({ ...it, detail: 'still a mount point' });
    } catch (e) {
      failed.push({ ...it, detail: `kept: ${(e as NodeJS.ErrnoException).code === 'ENOTEMPTY' ? 'not empty (the database wrote into it; remove it yourself)' : (e as Error).message}` });
    }
  }
  return failed;
}

/** Wait for `pid` to end (the reaper started at a crashed run's exit), up to `timeoutMs`. */
export async function waitForPidExit(pid: number, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}
