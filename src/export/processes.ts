/**
 * Finding and killing the processes a run started, by pid only.
 *
 * PostgreSQL makes each backend its own session leader (setsid in
 * InitPostmasterChild), so a process-group kill misses them. Instead: stop the
 * root (a stopped postmaster cannot fork), collect its descendants from
 * /proc, SIGKILL them all. Processes are also found by the TORNLAB_RUN
 * environment marker, which every child of a process we started inherits.
 */
import * as fs from 'node:fs';
import { HOST_ENV, RUN_ENV } from './ledger';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** One letter: R, S, D (uninterruptible, in the kernel), Z, ... */
  state: string;
  comm: string;
}

/** /proc/PID/stat of a process (or, with `base` /proc/PID/task, of one of its threads). */
export function readProc(pid: number | string, base = '/proc'): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`${base}/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: parse after the last ')'.
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    return { pid: Number(pid), state: rest[0], ppid: Number(rest[1]), comm: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

export function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Every live descendant of `root` (not root itself). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const p = readProc(pid);
    if (!p) continue;
    let l = children.get(p.ppid);
    if (!l) children.set(p.ppid, (l = []));
    l.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** The run id a process was marked with (by `marker`: RUN_ENV, or HOST_ENV for device hosts), if any. */
export function runMarkOf(pid: number, marker = RUN_ENV): string | undefined {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    const kv = env.find((e) => e.startsWith(`${marker}=`));
    return kv?.slice(marker.length + 1);
  } catch {
    return undefined;
  }
}

/** Device host processes (optionally: of one run); see ledger.ts HOST_ENV. */
export function deviceHosts(runId?: string): { pid: number; runId: string }[] {
  return markedProcesses(runId, HOST_ENV);
}

/** Processes carrying our marker (optionally: of one run). Never includes this process. */
export function markedProcesses(runId?: string, marker = RUN_ENV): { pid: number; runId: string }[] {
  const out: { pid: number; runId: string }[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const mark = runMarkOf(pid, marker);
    if (mark && (runId === undefined || mark === runId)) out.push({ pid, runId: mark });
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGKILL a process and all of its descendants (and, with a run id, every
 * process marked with it). Returns the pids signalled.
 */
export function killTree(root: number, runId?: string): number[] {
  signal(root, 'SIGSTOP');
  const victims = new Set<number>([root, ...descendants(root)]);
  if (runId) for (const m of markedProcesses(runId)) victims.add(m.pid);
  for (const pid of victims) signal(pid, 'SIGKILL');
  return [...victims];
}

/** Wait until none of `pids` is alive (zombies of ours count as gone), up to `timeoutMs`. */
export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter((p) => {
      const info = readProc(p);
      return info !== undefined && info.state !== 'Z';
    });
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 20));
  }
}
