/**
 * Child processes of a crash cycle: each started as the leader of a process
 * group of its own (so a power cut can SIGKILL a command and everything it
 * forked at once, daemons included), read line by line, bounded by timeouts,
 * and always reaped.
 *
 * A command is over when it *exits*, not when its pipes close: a daemon it put
 * in the background (`mariadbd &`) may hold its stdout/stderr for as long as it
 * lives. Its output is still read (and bounded) until the group is killed, so
 * that a daemon logging to the pipe never blocks on a full one.
 *
 * Invariant: every process group this module starts is either gone (no member
 * but zombies left) or is in `live`, and `killAll()` SIGKILLs every live group
 * — also after its leader exited — and waits until its members are gone.
 * Callers put `killAll()` in a finally block, so no child outlives a cycle.
 * Every group (and its leader while it runs) is also registered with the
 * export's teardown, which SIGKILLs it on SIGINT/SIGTERM/exit.
 */
import { ChildProcess, StdioOptions, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { closeExtraPipes, noFuseFds } from '../../src/export/fuse-conn';
import { RUN_ENV } from '../../src/export/ledger';
import { registerProcessTree } from '../../src/export/teardown';
import { joinCgroupArgs } from '../../src/export/cgroup';

export interface Started {
  child: ChildProcess;
  /** Process group id (the leader's pid), undefined if the spawn failed. */
  pgid: number | undefined;
  /**
   * Resolves when the command (the group leader) has exited and its output has
   * been read: when its pipes close, or at most EXIT_GRACE_MS after the exit
   * when other processes (a daemon it started) still hold them. Never rejects.
   */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout+stderr so far (the last OUTPUT_LIMIT characters), for attaching to verdicts. */
  output(): string;
  /** Characters of output received so far (a position for outputSince). */
  outputLength(): number;
  /** What arrived after position `pos` (as far as it is still kept). */
  outputSince(pos: number): string;
  /** SIGKILL the process group (also after the leader exited) and wait until its members are gone. */
  kill(): Promise<void>;
  /**
   * SIGKILL the process group without waiting. After a power cut this is the
   * only safe form: a process blocked on I/O the dead device never answers
   * dies only once the held requests are failed, which happens after the kill.
   */
  signalKill(): void;
}

const live = new Set<Started>();
export const OUTPUT_LIMIT = 64 * 1024;
/** After the leader's exit, how long its output may take to be read when its pipes stay open. */
export const EXIT_GRACE_MS = 100;
/** kill(): how long to wait for the members of a SIGKILLed group to go (a process in uninterruptible I/O may take longer). */
const KILL_WAIT_MS = 10_000;
/** How often a group whose leader exited is checked for remaining members. */
const GROUP_POLL_MS = 250;

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each complete stdout line. */
  onLine?: (line: string) => void;
  /**
   * The run marker (TORNLAB_RUN) the command's environment carries: the
   * export's teardown then also kills the processes that left the group
   * (setsid) but still carry it.
   */
  runMark?: string;
  /**
   * The run's cgroup folder (src/export/cgroup.ts): the command joins it
   * before it runs, so that everything it starts is found there, whatever
   * it does to its process group or environment.
   */
  cgroup?: string;
}

export function start(command: string, args: string[], opts: StartOptions = {}): Started {
  // noFuseFds: libfuse2 leaves /dev/fuse inheritable; a child holding it would keep a dead
  // daemon's connection alive (and its stuck I/O with it). The extra pipe ends are closed at once.
  // detached: setsid() in the child, so it leads a new process group (pgid = its pid).
  const argv = opts.cgroup ? joinCgroupArgs(opts.cgroup, command, args) : { file: command, args };
  const child = spawn(argv.file, argv.args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: noFuseFds(['ignore', 'pipe', 'pipe']) as StdioOptions, detached: true });
  closeExtraPipes(child);
  const pgid = child.pid;
  let out = '';
  let total = 0;
  let partial = '';
  const keep = (s: string) => {
    out += s;
    total += s.length;
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
    if (partial.length > OUTPUT_LIMIT) {
      // A process that never ends its line: hand over what came, bounded.
      opts.onLine(partial);
      partial = '';
    }
  });
  child.stderr!.on('data', keep);
  // Destroyed streams (after a kill) may still report an error; nothing to do about it.
  child.stdout!.on('error', () => undefined);
  child.stderr!.on('error', () => undefined);

  // Registered with the teardown: the leader while it runs (with its descendants by parent
  // pid, which catches setsid'd children it still parents), and the group by its negative id
  // (process.kill(-pgid) signals every member) until the group is gone.
  const unregisterLeader = pgid !== undefined ? registerProcessTree(pgid, opts.runMark) : () => undefined;
  const unregisterGroup = pgid !== undefined ? registerProcessTree(-pgid, opts.runMark) : () => undefined;
  let groupGone = pgid === undefined;
  let poll: NodeJS.Timeout | undefined;
  const gone = () => {
    if (poll) clearTimeout(poll);
    poll = undefined;
    groupGone = true;
    live.delete(s);
    unregisterGroup();
  };
  // After the leader's exit: forget the group as soon as nothing but zombies is left in it
  // (a group id may be reused once its last member is reaped).
  const watch = () => {
    if (groupGone || pgid === undefined) return;
    void groupHasMembers(pgid).then((has) => {
      if (groupGone) return;
      if (!has) return gone();
      poll = setTimeout(watch, GROUP_POLL_MS);
      poll.unref();
    });
  };

  // Both pipes at end of file: every writer (the leader and whatever inherited its stdio) is gone
  // and all it wrote has been read.
  const pipesClosed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let done = false;
    const finish = (r: { code: number | null; signal: NodeJS.Signals | null }) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    child.on('error', (e) => {
      keep(`\n[spawn error] ${e.message}\n`);
      unregisterLeader();
      if (pgid === undefined) gone();
      finish({ code: 127, signal: null });
    });
    child.on('exit', (code, signal) => {
      unregisterLeader();
      watch();
      // Its own last output is in the pipe already; give it a moment to be read.
      setTimeout(() => finish({ code, signal }), EXIT_GRACE_MS);
    });
    child.on('close', (code, signal) => finish({ code, signal }));
  });
  const s: Started = {
    child,
    pgid,
    exited,
    output: () => out,
    outputLength: () => total,
    outputSince: (pos) => {
      const first = total - out.length;
      return pos >= first ? out.slice(pos - first) : `[...]\n${out}`;
    },
    signalKill: () => {
      if (groupGone || pgid === undefined) return;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* the group is empty */
      }
    },
    kill: async () => {
      s.signalKill();
      const deadline = Date.now() + KILL_WAIT_MS;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, KILL_WAIT_MS)))]);
      clearTimeout(timer);
      while (!groupGone && pgid !== undefined && (await groupHasMembers(pgid))) {
        if (Date.now() > deadline) {
          // Still there (blocked in I/O): the teardown keeps the group and kills it again at exit.
          live.delete(s);
          return;
        }
        await sleep(10);
      }
      gone();
      // The group is dead, so the pipes reach end of file once what its members wrote last is
      // read: wait for that (briefly), so that a daemon's last words are kept.
      let drainTimer: NodeJS.Timeout | undefined;
      await Promise.race([pipesClosed, new Promise<void>((r) => (drainTimer = setTimeout(r, EXIT_GRACE_MS)))]);
      clearTimeout(drainTimer);
      // Anything else still holding the pipes (it left the group) is not read any more.
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
  if (!groupGone) live.add(s);
  return s;
}

/** Kill every process group this module started that is not gone yet (daemons of exited commands included), and wait for them. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((s) => s.kill()));
}

/** Process groups started here that are not gone yet (tests check it drops to 0). */
export function liveCount(): number {
  return live.size;
}

/** SIGKILL every live process group without waiting (see Started.signalKill). */
export function signalKillAll(): void {
  for (const s of live) s.signalKill();
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]. */
async function statFields(pid: string): Promise<string[] | undefined> {
  try {
    const stat = await fs.promises.readFile(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: parse after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

async function procPids(): Promise<string[]> {
  try {
    return (await fs.promises.readdir('/proc')).filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
}

/** Live (non-zombie) members of process group `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return []; // no member at all, not even a zombie
  }
  const out: number[] = [];
  await Promise.all(
    (await procPids()).map(async (p) => {
      const f = await statFields(p);
      if (f && f[0] !== 'Z' && Number(f[2]) === pgid) out.push(Number(p));
    }),
  );
  return out.sort((a, b) => a - b);
}

async function groupHasMembers(pgid: number): Promise<boolean> {
  return (await groupMembers(pgid)).length > 0;
}

/**
 * Processes (not this one) whose environment carries TORNLAB_RUN=`mark`: what
 * a run's commands started, also those that left their process group (setsid,
 * double fork). Reads /proc asynchronously. Note: reading another process's
 * environment takes its memory map lock; after a power cut, call this only once
 * the device's held requests were failed (a process faulting on the dead
 * device could otherwise hold that lock for ever).
 */
export async function markedPids(mark: string): Promise<number[]> {
  const needle = `\0${RUN_ENV}=${mark}\0`;
  const out: number[] = [];
  await Promise.all(
    (await procPids())
      .filter((p) => Number(p) !== process.pid)
      .map(async (p) => {
        try {
          const env = '\0' + (await fs.promises.readFile(`/proc/${p}/environ`, 'latin1')) + '\0';
          if (env.includes(needle)) out.push(Number(p));
        } catch {
          /* gone or not ours to read */
        }
      }),
  );
  return out.sort((a, b) => a - b);
}

/** SIGKILL the processes marked with `mark` (see markedPids) and wait until they are gone, at most `waitMs`. */
export async function killMarked(mark: string, waitMs = 5000): Promise<number[]> {
  return killAndWait(await markedPids(mark), waitMs);
}

/** SIGKILL `pids` and wait until they are gone, at most `waitMs` (0: do not wait). */
async function killAndWait(pids: number[], waitMs: number): Promise<number[]> {
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
  return killAndWait(await processesUsing(dir), waitMs);
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
