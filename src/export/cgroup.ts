/**
 * A cgroup per run: the processes a run's commands start are found by the
 * cgroup they were started in, not by what they inherit. A process group
 * misses what calls setsid(); the TORNLAB_RUN marker misses what clears its
 * environment (`env -i`); nothing a process can do without privileges takes
 * it out of its cgroup.
 *
 * Where: a cgroup v1 hierarchy that has the freezer controller (preferred:
 * the members can be frozen, so none forks while they are killed) or the pids
 * controller, in a folder of tornlab's own, <mount point>/tornlab/<name>,
 * where <name> is the run id (r<pid>-..., see ledger.ts) or exec's marker of a
 * run without a ledger (exec-<pid>-...). TORNLAB_CGROUP_ROOT names the
 * hierarchy to use instead (a mount point), or `none` for none.
 *
 * Invariants:
 * 1. Only folders under <hierarchy>/tornlab/ whose name carries a tornlab run
 *    id are ever written, killed or removed (isOurCgroup, asserted at every
 *    entry point that writes).
 * 2. A command joins the cgroup before it runs: the shell that execs it writes
 *    its own pid into cgroup.procs first (joinCgroupArgs), so nothing it starts
 *    is ever outside the cgroup, even briefly.
 * 3. Killing never blocks: the synchronous form only freezes, signals and
 *    thaws; waiting for the members to go is asynchronous and bounded.
 * Without a writable hierarchy (cgroup v2 only, no root), createRunCgroup
 * says why and callers fall back to process groups and the marker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const CGROUP_ROOT_ENV = 'TORNLAB_CGROUP_ROOT';
/** The folder of tornlab's own in a hierarchy. */
export const CGROUP_FOLDER = 'tornlab';
/** Names of tornlab's cgroups: a run id or an exec marker, both with the owning pid first. */
const NAME_RE = /^(?:r|exec-)(\d+)-[a-z0-9-]+$/;
/** How long a freeze may take before the members are killed anyway (a task in uninterruptible I/O cannot freeze). */
const FREEZE_WAIT_MS = 500;

export interface RunCgroup {
  /** <hierarchy>/tornlab/<name> */
  dir: string;
  /** True when the hierarchy has the freezer controller. */
  freezer: boolean;
}

export interface Hierarchy {
  mountPoint: string;
  freezer: boolean;
}

/** Candidate cgroup v1 hierarchies (freezer first, then pids), or the one TORNLAB_CGROUP_ROOT names. */
export function cgroupHierarchies(): Hierarchy[] {
  const forced = process.env[CGROUP_ROOT_ENV];
  if (forced === 'none') return [];
  // (Whether it has a freezer shows in the cgroup made there: createRunCgroup.)
  if (forced) return [{ mountPoint: path.resolve(forced), freezer: false }];
  const out: Hierarchy[] = [];
  let info = '';
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return out;
  }
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const [fsType, , superOpts = ''] = right.split(' ');
    if (fsType !== 'cgroup') continue;
    const opts = superOpts.split(',');
    const mountPoint = left.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (opts.includes('freezer')) out.unshift({ mountPoint, freezer: true });
    else if (opts.includes('pids')) out.push({ mountPoint, freezer: false });
  }
  return out;
}

/** True if `name` can name a cgroup of tornlab's (a run id or exec marker with its owner's pid). */
export function isCgroupName(name: string): boolean {
  return NAME_RE.test(name);
}

/** True if `dir` is a cgroup tornlab made (invariant 1). */
export function isOurCgroup(dir: string): boolean {
  const d = path.resolve(dir);
  const parent = path.dirname(d);
  return path.basename(parent) === CGROUP_FOLDER && NAME_RE.test(path.basename(d));
}

/** The pid of the process that owns cgroup `dir` (from its name), if it is one of ours. */
export function cgroupOwner(dir: string): number | undefined {
  const m = NAME_RE.exec(path.basename(dir));
  return m && isOurCgroup(dir) ? Number(m[1]) : undefined;
}

function assertOurs(dir: string): void {
  if (!isOurCgroup(dir)) throw new Error(`${dir} is not a cgroup tornlab made (<hierarchy>/${CGROUP_FOLDER}/<run id>); refusing to touch it`);
}

/**
 * Make the cgroup `name` (a run id or exec marker) in the first writable
 * hierarchy. Returns it, or why there is none (for the fallback's one line).
 */
export function createRunCgroup(name: string): RunCgroup | { unavailable: string } {
  if (!NAME_RE.test(name)) throw new Error(`cgroup name ${JSON.stringify(name)} is not a tornlab run id`);
  const hs = cgroupHierarchies();
  if (hs.length === 0) return { unavailable: process.env[CGROUP_ROOT_ENV] === 'none' ? `${CGROUP_ROOT_ENV}=none` : 'no cgroup v1 hierarchy with the freezer or pids controller is mounted' };
  const why: string[] = [];
  for (const h of hs) {
    const dir = path.join(h.mountPoint, CGROUP_FOLDER, name);
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      why.push(`${h.mountPoint}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      continue;
    }
    if (!fs.existsSync(path.join(dir, 'cgroup.procs'))) {
      // Not a cgroup file system after all: leave it as it was.
      fs.rmSync(dir, { recursive: true, force: true });
      try {
        fs.rmdirSync(path.dirname(dir));
      } catch {
        /* not empty or not ours to remove */
      }
      why.push(`${h.mountPoint}: not a cgroup hierarchy (no cgroup.procs)`);
      continue;
    }
    return { dir, freezer: fs.existsSync(path.join(dir, 'freezer.state')) };
  }
  return { unavailable: `no writable cgroup hierarchy (${why.join('; ')})` };
}

/**
 * argv that runs `file args` inside cgroup `dir` (invariant 2): a shell writes
 * its own pid into cgroup.procs, then execs the command. If it cannot join it
 * prints JOIN_FAILED and exits 125 without running the command.
 */
export function joinCgroupArgs(dir: string, file: string, args: readonly string[]): { file: string; args: string[] } {
  assertOurs(dir);
  const script = `echo $$ > "$1" || { echo "${JOIN_FAILED} $1" >&2; exit 125; }; shift; exec "$@"`;
  return { file: '/bin/sh', args: ['-c', script, 'tornlab-cgroup', path.join(dir, 'cgroup.procs'), file, ...args] };
}

/** What the joining shell prints when it cannot enter the cgroup (exit 125). */
export const JOIN_FAILED = 'tornlab: could not join cgroup';

/** Pids in the cgroup (zombies included; see livePids). */
export function cgroupPids(dir: string): number[] {
  try {
    return fs
      .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true; // gone
  }
}

/** Members that still run (a zombie has closed its files and cannot fork). */
export function livePids(dir: string): number[] {
  return cgroupPids(dir).filter((p) => p !== process.pid && !isZombie(p));
}

function writeState(cg: RunCgroup, state: 'FROZEN' | 'THAWED'): void {
  if (!cg.freezer) return;
  try {
    fs.writeFileSync(path.join(cg.dir, 'freezer.state'), state);
  } catch {
    /* gone meanwhile */
  }
}

function killPids(pids: number[]): void {
  for (const pid of pids) {
    if (pid === process.pid) continue; // never ourselves, whatever the file says
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Synchronous, never waits (invariant 3): freeze, SIGKILL every member, thaw.
 * For exit handlers and for the power cut (where a member blocked on the dead
 * device dies only after the held requests are failed). Returns the pids signalled.
 */
export function signalKillCgroup(cg: RunCgroup): number[] {
  assertOurs(cg.dir);
  writeState(cg, 'FROZEN');
  const pids = cgroupPids(cg.dir);
  killPids(pids);
  writeState(cg, 'THAWED');
  return pids;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kill every member and wait until none runs, at most `waitMs`: freeze (and
 * wait, briefly, for the freeze to take), SIGKILL, thaw; repeated while
 * members remain (without a freezer a member may fork between the read and
 * the kill). Returns the survivors (empty: the cgroup is empty).
 */
export async function killCgroup(cg: RunCgroup, waitMs = 5000): Promise<number[]> {
  assertOurs(cg.dir);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const alive = livePids(cg.dir);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    if (cg.freezer) {
      writeState(cg, 'FROZEN');
      const until = Math.min(deadline, Date.now() + FREEZE_WAIT_MS);
      while (Date.now() < until && (await readState(cg)) !== 'FROZEN') await sleep(5);
    }
    killPids(cgroupPids(cg.dir));
    writeState(cg, 'THAWED');
    await sleep(10);
  }
}

async function readState(cg: RunCgroup): Promise<string> {
  try {
    return (await fs.promises.readFile(path.join(cg.dir, 'freezer.state'), 'utf8')).trim();
  } catch {
    return 'FROZEN'; // gone: nothing left to freeze
  }
}

/** Remove the cgroup if nothing runs in it any more. True when it is gone. */
export function removeCgroup(cg: RunCgroup): boolean {
  assertOurs(cg.dir);
  if (!fs.existsSync(cg.dir)) return true;
  if (livePids(cg.dir).length > 0) return false;
  writeState(cg, 'THAWED'); // a frozen empty cgroup can be removed too, but leave none frozen
  try {
    fs.rmdirSync(cg.dir);
    return true;
  } catch {
    return false; // zombies not reaped yet, or busy: doctor removes it
  }
}

/** The RunCgroup of a folder (freezer or not, by its files). */
export function cgroupAt(dir: string): RunCgroup {
  assertOurs(dir);
  return { dir: path.resolve(dir), freezer: fs.existsSync(path.join(dir, 'freezer.state')) };
}

/** tornlab's cgroups in every candidate hierarchy, with the owner pid from the name. */
export function ourCgroups(): { dir: string; owner: number }[] {
  const out: { dir: string; owner: number }[] = [];
  for (const h of cgroupHierarchies()) {
    const parent = path.join(h.mountPoint, CGROUP_FOLDER);
    let names: string[] = [];
    try {
      names = fs.readdirSync(parent);
    } catch {
      continue;
    }
    for (const n of names) {
      const dir = path.join(parent, n);
      const owner = cgroupOwner(dir);
      if (owner !== undefined && fs.statSync(dir).isDirectory()) out.push({ dir, owner });
    }
  }
  return out;
}
