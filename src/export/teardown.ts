/**
 * Guaranteed teardown. Every live block stack and every process tree a run
 * started registers here while it exists. Then:
 * - on SIGINT / SIGTERM: the processes are SIGKILLed, every stack is released
 *   as after a power cut (stop serving, fail pending requests, lazy umount,
 *   losetup -d, FUSE unmount), and the process exits 128+signal;
 * - on process exit with something still registered (an exception that
 *   escaped every finally, a process.exit elsewhere): the processes are
 *   SIGKILLed synchronously and a detached `tornlab doctor --cleanup` for this
 *   run is started, which waits for this process to end — when the FUSE
 *   daemon (this process) is gone the kernel fails its requests, so the
 *   unmounts cannot hang — and releases what the ledger lists.
 * Normal code releases in `finally` blocks; this is the safety net.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeExtraPipes, noFuseFds } from './fuse-conn';
import { stopDeviceHost } from './device-host/client';
import { currentLedger, onLedgerCreated, runLedger } from './ledger';
import { Leftover, cleanupLeftovers, currentMounts, loopDevices } from './doctor';
import { descendants, killTree, markedProcesses, waitGone } from './processes';
import { RunCgroup, livePids, removeCgroup, signalKillCgroup } from './cgroup';

export interface Releasable {
  release(): Promise<void>;
  /**
   * Stop serving the exported device (if any) and answer every request with
   * EIO from now on, so that no release step — including one already under
   * way — can wait on it.
   */
  abort?(): void | Promise<void>;
}

const stacks = new Set<Releasable>();
const trees = new Map<number, string | undefined>();
const cgroups = new Set<RunCgroup>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', () => void onSignal('SIGINT', 130));
  process.on('SIGTERM', () => void onSignal('SIGTERM', 143));
  process.on('exit', onExit);
}

// From the moment a run has a folder, SIGINT/SIGTERM must remove it (exit 128+signal), not kill the process by default.
onLedgerCreated(install);

/** Register a block stack; returns the function that unregisters it. */
export function registerActive(stack: Releasable): () => void {
  install();
  stacks.add(stack);
  return () => {
    stacks.delete(stack);
  };
}

/** Register a process tree (root pid, optional run marker) to kill on teardown. */
export function registerProcessTree(pid: number, runMark?: string): () => void {
  install();
  trees.set(pid, runMark);
  return () => {
    trees.delete(pid);
  };
}

/**
 * Register a run's cgroup (cgroup.ts): on teardown every member is killed
 * and, once none runs, the cgroup is removed (at exit: if that is already so).
 */
export function registerCgroup(cg: RunCgroup): () => void {
  install();
  cgroups.add(cg);
  return () => {
    cgroups.delete(cg);
  };
}

/** Remove the registered cgroups that are empty; off the ledger with them. */
function removeEmptyCgroups(): void {
  for (const cg of [...cgroups]) {
    if (!removeCgroup(cg)) continue;
    cgroups.delete(cg);
    const l = currentLedger();
    if (l && !l.isClosed) l.remove('cgroup', cg.dir);
  }
}

/** SIGKILL every registered tree and every process marked with this run; returns the pids signalled. */
function killAll(): number[] {
  const victims: number[] = [];
  for (const cg of cgroups) victims.push(...signalKillCgroup(cg));
  for (const [pid, mark] of trees) victims.push(...killTree(pid, mark));
  trees.clear();
  // Tools started for the run (initdb, pgbench, pg_checksums, ...) carry its marker too.
  const runId = currentLedger()?.runId;
  if (runId) {
    // (The device host carries its own marker, not this one: it outlives the releases that follow.)
    for (const p of markedProcesses(runId)) {
      try {
        process.kill(p.pid, 'SIGKILL');
        victims.push(p.pid);
      } catch {
        // gone
      }
    }
  }
  return victims;
}

/** Release everything registered (used by signal handlers and by tests). */
export async function releaseAll(): Promise<void> {
  const victims = killAll();
  for (const s of [...stacks]) {
    try {
      await s.abort?.();
      await s.release();
    } catch (e) {
      process.stderr.write(`tornlab: teardown: ${(e as Error).message}\n`);
    }
  }
  // The killed processes leave once their I/O was answered (abort above); wait for them.
  await waitGone(victims, 10_000);
  removeEmptyCgroups();
}

let signalled = false;

/** True once SIGINT/SIGTERM started the teardown: no new resources may be taken. */
export function interrupted(): boolean {
  return signalled;
}

/**
 * Call where an error is about to end the run: if a signal teardown is under
 * way, never return (the teardown exits the process with 128+signal once
 * everything is released) instead of racing it to process.exit.
 */
export function haltIfInterrupted(): Promise<void> {
  return signalled ? new Promise<void>(() => undefined) : Promise.resolve();
}

async function onSignal(sig: string, code: number): Promise<void> {
  if (signalled) return;
  signalled = true;
  process.stderr.write(`tornlab: ${sig}: releasing mounts, loop devices and processes of this run\n`);
  const timer = setTimeout(() => process.exit(code), 60_000);
  // Each step runs whatever the one before it threw: the exit code stays 128+signal and comes without waiting for the timer.
  const steps: [string, () => Promise<void>][] = [
    ['release', releaseAll],
    // Everything it served is released: the device host ends before we do, so nothing of the run outlives the exit.
    ['device host', stopDeviceHost],
    ['leftovers', releaseUnowned],
  ];
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (e) {
      process.stderr.write(`tornlab: teardown (${name}): ${(e as Error).message}\n`);
    }
  }
  clearTimeout(timer);
  process.exit(code);
}

/**
 * What the ledger still lists after every registered stack was released: a step the
 * signal interrupted before a stack owned its result (a FUSE export or a mount still
 * in flight). Released like doctor releases a dead run's leftovers.
 */
async function releaseUnowned(): Promise<void> {
  const l = currentLedger();
  if (!l) return;
  // Tools of the interrupted step (mount, losetup, mkfs) finish first: what they made is what to release.
  // Whatever child is still there after a moment (a tool stuck, a worker child) is killed.
  const left = await waitGone(descendants(process.pid), 2_000);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await waitGone(left, 5_000);
  // A finally block of the interrupted step may have released the run and closed its ledger meanwhile.
  if (l.isClosed) return;
  // A mount-dir is the user's folder the run made: its owner removes it at exit (exec's exit hook), with what is in it.
  const items: Leftover[] = l.resources.filter((r) => r.kind !== 'process' && r.kind !== 'mount-dir').map((r) => ({ kind: r.kind, id: r.id, runId: l.runId }));
  // Also what exists under the run's folders without a ledger entry: an export whose answer never came
  // (the device host ended mid-mount) is dropped from the ledger by its caller, but the kernel mount may be there.
  const under = (p: string) => [l.dir, l.plainDir].some((d) => p.startsWith(d + '/'));
  const add = (it: Leftover) => items.some((x) => x.kind === it.kind && x.id === it.id) || items.push(it);
  for (const m of currentMounts()) if (under(m.mountPoint)) add({ kind: m.fsType.startsWith('fuse') ? 'fuse-mount' : 'mount', id: m.mountPoint, runId: l.runId });
  for (const lo of loopDevices()) if (under(lo.backingFile)) add({ kind: 'loop', id: lo.dev, runId: l.runId });
  if (!items.some((i) => i.kind !== 'dir')) return;
  const failed = await cleanupLeftovers(items);
  for (const r of items) if (!failed.some((f) => f.kind === r.kind && f.id === r.id)) l.remove(r.kind, r.id);
  for (const f of failed) process.stderr.write(`tornlab: teardown: could not release ${f.kind} ${f.id}: ${f.detail ?? ''}\n`);
}

function onExit(): void {
  killAll();
  // A member killed just now may take a moment to go: wait for that, briefly (nothing here serves FUSE).
  const until = Date.now() + 1000;
  while ([...cgroups].some((cg) => livePids(cg.dir).length > 0) && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  removeEmptyCgroups();
  if (stacks.size === 0) {
    // Nothing held any more: the run folder (sockets, logs, state) goes too.
    try {
      currentLedger()?.close();
    } catch {
      // doctor lists it
    }
    return;
  }
  const main = path.resolve(__dirname, '../../dist/src/cli/main.js');
  const compiled = path.resolve(__dirname, '../cli/main.js');
  const entry = fs.existsSync(compiled) && compiled.endsWith('.js') ? compiled : main;
  try {
    const child = spawn(process.execPath, [entry, 'doctor', '--cleanup', '--run', runLedger().runId, '--after-pid', String(process.pid)], {
      detached: true,
      // The reaper must not hold /dev/fuse: this process's death has to abort the connection.
      stdio: noFuseFds(['ignore', 'ignore', 'ignore']),
    });
    closeExtraPipes(child);
    child.unref();
  } catch {
    // doctor --cleanup by hand will find the leftovers
  }
}
