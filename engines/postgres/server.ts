/**
 * One PostgreSQL server on an exported device: initdb, start (which is crash
 * recovery after a cut), a private Unix socket folder and port (no TCP),
 * clean stop, SIGKILL of the whole process tree, and the server log.
 *
 * Every process started here carries the run marker in its environment and
 * is registered for teardown, so a failed or interrupted run leaves none.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, newClient } from './pg-client';
import { CommandResult, run, runOk, sleep } from '../../src/export/exec';
import { RUN_ENV, RunLedger } from '../../src/export/ledger';
import { LocalServerProcess, OsUser, StartResult } from '../common/server-process';

export type { StartResult };
import { pgTool, postgresUser } from './runtime';

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

export class PgServer extends LocalServerProcess implements PgInstance {
  readonly user: OsUser;

  constructor(readonly opts: ServerOptions) {
    super(opts.ledger);
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
    const exitCode = this.spawnServer({ command: pgTool('postgres'), args, env: pgEnv(o.ledger), logFile: o.logFile, owner: this.user, runAs: true, label: 'postmaster' });
    while (Date.now() - t0 < timeoutMs) {
      if (exitCode() !== undefined) {
        this.forget();
        return { ready: false, ms: Date.now() - t0, exitCode: exitCode() };
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
  stop(timeoutMs = 120_000): Promise<{ clean: boolean; exitCode: number | null | undefined }> {
    return this.stopWith('SIGINT', timeoutMs);
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
