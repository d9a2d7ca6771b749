/**
 * Child processes of a crash cycle: started in their own process group (so a
 * power cut can SIGKILL a command and everything it forked at once), read line
 * by line, bounded by timeouts, and always reaped.
 *
 * Invariant: every process this module starts is either already exited or is
 * in `live`, and `killAll()` SIGKILLs every live group and waits for the exits.
 * Callers put `killAll()` in a finally block, so no child outlives a cycle.
 */
import { ChildProcess, StdioOptions, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { closeExtraPipes, noFuseFds } from '../../src/export/fuse-conn';
import { registerProcessTree } from '../../src/export/teardown';

export interface Started {
  child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout+stderr so far (bounded), for attaching to verdicts. */
  output(): string;
  /** SIGKILL the process group and wait for the exit. */
  kill(): Promise<void>;
  /**
   * SIGKILL the process group without waiting. After a power cut this is the
   * only safe form: a process blocked on I/O the dead device never answers
   * dies only once the held requests are failed, which happens after the kill.
   */
  signalKill(): void;
}

const live = new Set<Started>();
const OUTPUT_LIMIT = 64 * 1024;

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each complete stdout line. */
  onLine?: (line: string) => void;
}

export function start(command: string, args: string[], opts: StartOptions = {}): Started {
  // noFuseFds: libfuse2 leaves /dev/fuse inheritable; a child holding it would keep a dead
  // daemon's connection alive (and its stuck I/O with it). The extra pipe ends are closed at once.
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: noFuseFds(['ignore', 'pipe', 'pipe']) as StdioOptions, detached: true });
  closeExtraPipes(child);
  let out = '';
  let partial = '';
  const keep = (s: string) => {
    out += s;
    if (out.length > OUTPUT_LIMIT) out = out.slice(out.length - OUTPUT_LIMIT);
  };
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    keep(s);
    if (!opts.onLine) return;
    partial += s;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      opts.onLine(line);
    }
  });
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      keep(`\n[spawn error] ${e.message}\n`);
      resolve({ code: 127, signal: null });
    });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const s: Started = {
    child,
    exited,
    output: () => out,
    signalKill: () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          try {
            child.kill('SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    },
    kill: async () => {
      s.signalKill();
      await exited;
    },
  };
  live.add(s);
  // Also known to the export's teardown, which SIGKILLs the tree on SIGINT/SIGTERM/exit.
  const unregister = child.pid !== undefined ? registerProcessTree(child.pid) : () => undefined;
  void exited.then(() => {
    live.delete(s);
    unregister();
  });
  return s;
}

/** Kill every process group this module started and still running, and wait for them. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.kill()));
}

/** Processes started here that have not exited yet (tests check it drops to 0). */
export function liveCount(): number {
  return live.size;
}

/** SIGKILL every live process group without waiting (see Started.signalKill). */
export function signalKillAll(): void {
  for (const s of live) s.signalKill();
}

export class TimeoutError extends Error {}

/** Resolve with p, or reject with TimeoutError naming `what` after ms. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Processes (pids) that hold a file, a cwd or a mapping under `dir`: the
 * database's processes that a power cut must kill even when they left our
 * process groups (daemons that double-fork). Reads /proc asynchronously: the
 * caller may be the process serving the mount, so nothing here may block on it.
 */
export async function processesUsing(dir: string): Promise<number[]> {
  const root = path.resolve(dir) + '/';
  // Guard: this kills whatever uses the directory; only ever point it at a mount of our own.
  if (root === '/') throw new Error('processesUsing("/") would match every process');
  const self = process.pid;
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = await fs.promises.readdir('/proc');
  } catch {
    return [];
  }
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== self)
      .map(async (e) => {
        const links: string[] = [];
        try {
          links.push(await fs.promises.readlink(`/proc/${e}/cwd`));
        } catch {
          /* gone or not ours to read */
        }
        try {
          const fds = await fs.promises.readdir(`/proc/${e}/fd`);
          for (const fd of fds) {
            try {
              links.push(await fs.promises.readlink(`/proc/${e}/fd/${fd}`));
            } catch {
              /* closed meanwhile */
            }
          }
        } catch {
          /* gone */
        }
        if (links.some((l) => l === root.slice(0, -1) || l.startsWith(root))) pids.push(Number(e));
      }),
  );
  return pids.sort((a, b) => a - b);
}

/**
 * SIGKILL the processes using `dir` (see processesUsing) and wait until they
 * are gone, at most `waitMs` (0: do not wait — the form to use after a power
 * cut, before the device's held requests are failed).
 */
export async function killProcessesUsing(dir: string, waitMs = 5000): Promise<number[]> {
  const pids = await processesUsing(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + waitMs;
  for (const pid of pids) {
    while (Date.now() < deadline && alive(pid)) await sleep(10);
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; treat it as gone (its files are closed).
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}
