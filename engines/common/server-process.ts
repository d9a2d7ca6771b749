/**
 * The life of a database server process on this host, shared by the local
 * PostgreSQL and MariaDB servers (engines/postgres/server.ts,
 * engines/mariadb/server.ts): spawn it detached with its log as stdout and
 * stderr, register its process tree for teardown and in the run ledger, stop
 * it cleanly with the database's own shutdown signal, SIGKILL its tree at a
 * cut, wait for the killed processes to leave, and read the log written since
 * the last start.
 *
 * Invariants:
 *  1. A started server is in the run ledger and registered for teardown
 *     until it is forgotten: after its exit was seen, a clean stop or a kill.
 *  2. The server never holds /dev/fuse (noFuseFds), or a dead FUSE daemon's
 *     connection could never be aborted.
 *  3. kill() returns at once with the pids it signalled; waitGone() is where
 *     the caller waits for them (they leave once their pending I/O is answered).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeExtraPipes, noFuseFds } from '../../src/export/fuse-conn';
import { RunLedger } from '../../src/export/ledger';
import { killTree, waitGone } from '../../src/export/processes';
import { registerProcessTree } from '../../src/export/teardown';

/** An OS user a server runs as (read from /etc/passwd). */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The OS user `name` from /etc/passwd, if there is one. */
export function osUser(name: string): OsUser | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return { name, uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd file
  }
  return undefined;
}

/** The text of `file` after `offset` ('' when it cannot be read). */
export function logSince(file: string, offset: number): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(offset);
  } catch {
    return '';
  }
}

/** How a server's start ended: accepting connections, or not (and how it exited, if it did). */
export interface StartResult {
  ready: boolean;
  /** How long it took until connections were accepted (or the server died), ms. */
  ms: number;
  /** The exit status if the server exited (null: killed by a signal); undefined: still running at the timeout. */
  exitCode?: number | null;
}

/** How a server process is spawned (see LocalServerProcess.spawnServer). */
export interface SpawnSpec {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The log the server's stdout and stderr append to (its offset is where logSinceStart begins). */
  logFile: string;
  /** The user that owns the log (and runs the server when `runAs` is set). */
  owner: OsUser;
  /** Run the server as `owner` (PostgreSQL); else the server drops privileges itself (mariadbd --user). */
  runAs: boolean;
  cwd?: string;
  /** The ledger entry's note, e.g. 'postmaster'. */
  label: string;
}

export abstract class LocalServerProcess {
  pid: number | undefined;
  protected exited: Promise<number | null> | undefined;
  private unregister: () => void = () => undefined;
  private logOffset = 0;
  private logPath = '';

  protected constructor(protected readonly ledger: RunLedger) {}

  /**
   * Spawn the server (invariants 1 and 2). The returned function reads its
   * exit status once the exit was seen (undefined while it runs).
   */
  protected spawnServer(s: SpawnSpec): () => number | null | undefined {
    const logFd = fs.openSync(s.logFile, 'a');
    fs.chownSync(s.logFile, s.owner.uid, s.owner.gid);
    this.logPath = s.logFile;
    this.logOffset = fs.statSync(s.logFile).size;
    const ids = s.runAs ? { uid: s.owner.uid, gid: s.owner.gid } : {};
    const child = spawn(s.command, s.args, { ...ids, env: s.env, stdio: noFuseFds(['ignore', logFd, logFd]), detached: true, ...(s.cwd ? { cwd: s.cwd } : {}) });
    closeExtraPipes(child);
    fs.closeSync(logFd);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${path.basename(s.command)}`);
    this.pid = pid;
    this.ledger.add('process', String(pid), s.label);
    this.unregister = registerProcessTree(pid, this.ledger.runId);
    let exitCode: number | null | undefined;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    void this.exited.then((c) => {
      exitCode = c;
    });
    child.unref();
    return () => exitCode;
  }

  /** Clean shutdown by `signal`; clean if the server exited with status 0 before the timeout (else it is killed). */
  protected async stopWith(signal: NodeJS.Signals, timeoutMs: number): Promise<{ clean: boolean; exitCode: number | null | undefined }> {
    if (this.pid === undefined || !this.exited) return { clean: false, exitCode: undefined };
    try {
      process.kill(this.pid, signal);
    } catch {
      // already gone
    }
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([this.exited, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)))]);
    clearTimeout(timer);
    if (code === undefined) {
      this.kill();
      return { clean: false, exitCode: undefined };
    }
    this.forget();
    return { clean: code === 0, exitCode: code };
  }

  /** SIGKILL the server and every process of its tree (a power cut from the server's point of view). */
  kill(): number[] {
    if (this.pid === undefined) return [];
    const victims = killTree(this.pid, undefined);
    this.forget();
    return victims;
  }

  /** Wait until the processes of a kill are gone (they leave once their pending I/O is answered). */
  async waitGone(pids: number[], timeoutMs = 15_000): Promise<number[]> {
    return waitGone(pids, timeoutMs);
  }

  /** Leave the ledger and the teardown (invariant 1). */
  protected forget(): void {
    if (this.pid !== undefined) this.ledger.remove('process', String(this.pid));
    this.unregister();
    this.pid = undefined;
  }

  /** Server log written since the last start. */
  logSinceStart(): string {
    return logSince(this.logPath, this.logOffset);
  }
}
