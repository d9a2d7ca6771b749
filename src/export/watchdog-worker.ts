/**
 * The watchdog's thread (see watchdog.ts). It runs beside the orchestrating
 * thread, so its timers fire even while that thread is blocked in the
 * kernel. When a phase passes its deadline it, in this order:
 *   1. records the kernel stack of every process of the run that is stuck
 *      (state D), and of the orchestrator's own threads, before anything moves;
 *   2. aborts the run's own FUSE connections (ledger `fuse-conn` records)
 *      through fusectl, mounting fusectl first if it is not mounted: that
 *      fails every request a stuck process waits for;
 *   3. SIGKILLs the run's processes: descendants of the orchestrator and
 *      processes marked with the run id — never the device host, never
 *      anything else;
 *   4. reports all of it to the orchestrator, which ends the phase with
 *      `harness-error` and tears down the rest.
 * Invariant: nothing here reads a path below a mount of the run (it could
 * hang); it reads only /proc, /sys/fs/fuse and the run's state file on tmpfs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { ProcInfo, descendants, markedProcesses, readProc } from './processes';

export interface ArmMessage {
  kind: 'arm';
  token: number;
  phase: string;
  ms: number;
  mainPid: number;
  hostPid?: number;
  /** The run's id and folder, when it has a ledger (else: no FUSE connection and no marked process to look for). */
  runId?: string;
  runDir?: string;
}
export type ToWatchdog = ArmMessage | { kind: 'disarm'; token: number };

export interface StuckProcess {
  pid: number;
  comm: string;
  state: string;
  /** /proc/PID/stack (kernel stack), innermost first; empty if unreadable. */
  stack: string[];
}
export interface ExpiredMessage {
  kind: 'expired';
  token: number;
  phase: string;
  ms: number;
  stuck: StuckProcess[];
  abortedConnections: number[];
  killed: number[];
  notes: string[];
}

function kernelStack(p: string): string[] {
  try {
    return fs
      .readFileSync(p, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\[<[0-9a-f]+>\] /, '').trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

function fuseConnectionsOfRun(runDir: string): number[] {
  try {
    const st = JSON.parse(fs.readFileSync(path.join(runDir, 'state.json'), 'utf8')) as { resources: { kind: string; id: string }[] };
    return st.resources.filter((r) => r.kind === 'fuse-conn').map((r) => Number(r.id));
  } catch {
    return [];
  }
}

/** Where fusectl is mounted, mounting it at the standard place if it is not. */
function fusectlDir(notes: string[]): string | undefined {
  const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of mi.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep > 0 && f[sep + 1] === 'fusectl') return f[4];
  }
  try {
    execFileSync('mount', ['-t', 'fusectl', 'fusectl', '/sys/fs/fuse/connections'], { timeout: 10_000, stdio: 'ignore' });
    return '/sys/fs/fuse/connections';
  } catch (e) {
    notes.push(`cannot mount fusectl: ${(e as Error).message}`);
    return undefined;
  }
}

function expire(a: ArmMessage): ExpiredMessage {
  const notes: string[] = [];
  // 1. Who is stuck, before anything changes.
  const ours = new Map<number, ProcInfo>();
  for (const pid of [...descendants(a.mainPid), ...(a.hostPid ? [a.hostPid] : [])]) {
    const p = readProc(pid);
    if (p) ours.set(pid, p);
  }
  const stuck: StuckProcess[] = [];
  for (const s of ours.values()) if (s.state === 'D') stuck.push({ pid: s.pid, comm: s.comm, state: s.state, stack: kernelStack(`/proc/${s.pid}/stack`) });
  try {
    for (const t of fs.readdirSync(`/proc/${a.mainPid}/task`)) {
      const s = readProc(t, `/proc/${a.mainPid}/task`);
      if (s && s.state === 'D') stuck.push({ pid: s.pid, comm: `${s.comm} (orchestrator thread)`, state: s.state, stack: kernelStack(`/proc/${a.mainPid}/task/${t}/stack`) });
    }
  } catch {
    // no task list
  }
  // 2. Abort this run's FUSE connections.
  const aborted: number[] = [];
  const conns = a.runDir ? fuseConnectionsOfRun(a.runDir) : [];
  if (conns.length) {
    const dir = fusectlDir(notes);
    for (const id of conns) {
      if (!dir) break;
      try {
        fs.writeFileSync(path.join(dir, String(id), 'abort'), '1');
        aborted.push(id);
      } catch {
        // that connection is already gone
      }
    }
  }
  // 3. Kill this run's processes (after the abort, reading their environment cannot hang).
  const victims = new Set(ours.keys());
  if (a.runId) for (const m of markedProcesses(a.runId)) victims.add(m.pid);
  const killed: number[] = [];
  for (const pid of victims) {
    if (pid === a.hostPid || pid === a.mainPid) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone
    }
  }
  return { kind: 'expired', token: a.token, phase: a.phase, ms: a.ms, stuck, abortedConnections: aborted, killed, notes };
}

const timers = new Map<number, NodeJS.Timeout>();

parentPort!.on('message', (m: ToWatchdog) => {
  if (m.kind === 'arm') {
    timers.set(
      m.token,
      setTimeout(() => {
        timers.delete(m.token);
        let out: ExpiredMessage;
        try {
          out = expire(m);
        } catch (e) {
          out = { kind: 'expired', token: m.token, phase: m.phase, ms: m.ms, stuck: [], abortedConnections: [], killed: [], notes: [`watchdog: ${(e as Error).message}`] };
        }
        parentPort!.postMessage(out);
      }, m.ms),
    );
  } else {
    const t = timers.get(m.token);
    if (t) clearTimeout(t);
    timers.delete(m.token);
  }
});
