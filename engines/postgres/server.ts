/**
 * One PostgreSQL server on an exported device: initdb, start (which is crash
 * recovery after a cut), a private Unix socket folder and port (no TCP),
 * clean stop, SIGKILL of the whole process tree, and the server log.
 *
 * Every process started here carries the run marker in its environment and
 * is registered for teardown, so a failed or interrupted run leaves none.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, newClient } from './pg-client';
import { CommandResult, run, runOk, sleep } from '../../src/export/exec';
import { closeExtraPipes, noFuseFds } from '../../src/export/fuse-conn';
import { RUN_ENV, RunLedger } from '../../src/export/ledger';
import { killTree, waitGone } from '../../src/export/processes';
import { registerProcessTree } from '../../src/export/teardown';
import { OsUser, pgTool, postgresUser } from './runtime';

export interface ServerOptions {
  dataDir: string;
  /** Folder for the Unix socket (outside the exported device). */
  socketDir: string;
  port: number;
  /** Server log file (outside the exported device). */
  logFile: string;
  settings: Record<string, string>;
  ledger: RunLedger;
}

export interface StartResult {
  ready: boolean;
  /** How long it took until connections were accepted (or the server died), ms. */
  ms: number;
  exitCode?: number | null;
}

function pgEnv(ledger: RunLedger): NodeJS.ProcessEnv {
  return { PATH: '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', HOME: '/tmp', [RUN_ENV]: ledger.runId };
}

export type PgToolName = 'pg_checksums' | 'pg_amcheck' | 'pgbench' | 'psql' | 'pg_waldump';

/** What a crash cycle needs of a server, whichever the runtime (local binaries here, a container in container-server.ts). */
export interface PgInstance {
  readonly opts: ServerOptions;
  initdb(): Promise<void>;
  start(timeoutMs?: number): Promise<StartResult>;
  connect(): Promise<Client>;
  stop(timeoutMs?: number): Promise<{ clean: boolean; exitCode: number | null | undefined }>;
  kill(): number[];
  waitGone(pids: number[], timeoutMs?: number): Promise<number[]>;
  logSinceStart(): string;
  runTool(tool: PgToolName, args: string[], timeoutMs?: number): Promise<CommandResult>;
}

export class PgServer implements PgInstance {
  readonly user: OsUser;
  pid: number | undefined;
  private exited: Promise<number | null> | undefined;
  private unregister: () => void = () => undefined;
  private logOffset = 0;

  constructor(readonly opts: ServerOptions) {
    const u = postgresUser();
    if (!u) throw new Error('no postgres OS user');
    this.user = u;
    fs.mkdirSync(opts.socketDir, { recursive: true, mode: 0o755 });
    fs.chownSync(opts.socketDir, u.uid, u.gid);
  }

  get connection(): { host: string; port: number; user: string; database: string } {
    return { host: this.opts.socketDir, port: this.opts.port, user: 'postgres', database: 'postgres' };
  }

  /** initdb --data-checksums into the (empty) data folder. */
  async initdb(): Promise<void> {
    const { dataDir } = this.opts;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.chownSync(dataDir, this.user.uid, this.user.gid);
    await runOk(pgTool('initdb'), ['-D', dataDir, '--data-checksums', '-A', 'trust', '-U', 'postgres', '--locale=C', '-E', 'UTF8', '--no-instructions', '--no-sync'], {
      uid: this.user.uid,
      gid: this.user.gid,
      env: pgEnv(this.opts.ledger),
      timeoutMs: 120_000,
    });
  }

  /** Start the postmaster (crash recovery runs first if needed); wait until it accepts connections or exits. */
  async start(timeoutMs = 120_000): Promise<StartResult> {
    const t0 = Date.now();
    const o = this.opts;
    const args = ['-D', o.dataDir, '-p', String(o.port), '-k', o.socketDir, '-c', 'listen_addresses='];
    for (const [k, v] of Object.entries(o.settings)) args.push('-c', `${k}=${v}`);
    const logFd = fs.openSync(o.logFile, 'a');
    fs.chownSync(o.logFile, this.user.uid, this.user.gid);
    this.logOffset = fs.statSync(o.logFile).size;
    // noFuseFds: the server must not hold /dev/fuse, or a dead daemon's connection could never abort.
    const child = spawn(pgTool('postgres'), args, { uid: this.user.uid, gid: this.user.gid, env: pgEnv(o.ledger), stdio: noFuseFds(['ignore', logFd, logFd]), detached: true });
    closeExtraPipes(child);
    fs.closeSync(logFd);
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not start postgres');
    this.pid = pid;
    o.ledger.add('process', String(pid), 'postmaster');
    this.unregister = registerProcessTree(pid, o.ledger.runId);
    let exitCode: number | null | undefined;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    void this.exited.then((c) => {
      exitCode = c;
    });
    child.unref();
    while (Date.now() - t0 < timeoutMs) {
      if (exitCode !== undefined) {
        this.forget();
        return { ready: false, ms: Date.now() - t0, exitCode };
      }
      const c = newClient({ ...this.connection, connectionTimeoutMillis: 2000 });
      try {
        await c.connect();
        await c.end();
        return { ready: true, ms: Date.now() - t0 };
      } catch {
        await c.end().catch(() => undefined);
        await sleep(25);
      }
    }
    return { ready: false, ms: Date.now() - t0 };
  }

  async connect(): Promise<Client> {
    const c = newClient(this.connection);
    c.on('error', () => undefined); // a killed server must not crash the process
    await c.connect();
    return c;
  }

  /** Clean shutdown (fast mode: a shutdown checkpoint); true if the postmaster exited with status 0. */
  async stop(timeoutMs = 120_000): Promise<{ clean: boolean; exitCode: number | null | undefined }> {
    if (this.pid === undefined || !this.exited) return { clean: false, exitCode: undefined };
    try {
      process.kill(this.pid, 'SIGINT');
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

  /** SIGKILL the postmaster and every process of its tree (a power cut from PostgreSQL's point of view). */
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

  private forget(): void {
    if (this.pid !== undefined) this.opts.ledger.remove('process', String(this.pid));
    this.unregister();
    this.pid = undefined;
  }

  /** Server log written since the last start. */
  logSinceStart(): string {
    try {
      return fs.readFileSync(this.opts.logFile, 'utf8').slice(this.logOffset);
    } catch {
      return '';
    }
  }

  /** Run a PostgreSQL client tool as the postgres user against this server or its data folder. */
  runTool(tool: PgToolName, args: string[], timeoutMs = 300_000): Promise<CommandResult> {
    return run(pgTool(tool), args, { uid: this.user.uid, gid: this.user.gid, env: pgEnv(this.opts.ledger), timeoutMs, cwd: path.dirname(this.opts.logFile) });
  }
}

/** The interesting lines of a server log: warnings, errors, FATAL/PANIC, recovery progress. */
export function notableLogLines(log: string, max = 40): string[] {
  const re = /(WARNING|ERROR|FATAL|PANIC|invalid page|checksum|redo (starts|done)|database system (was|is))/;
  // Our own connection attempts while the server starts are noise, not evidence.
  const noise = /the database system is (starting up|not yet accepting connections)/;
  return log
    .split('\n')
    .filter((l) => re.test(l) && !noise.test(l))
    .slice(0, max);
}
