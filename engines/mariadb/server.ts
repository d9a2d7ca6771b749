/**
 * One MariaDB server on an exported device: mariadb-install-db (once, for
 * the base image), start (InnoDB crash recovery after a cut), a private Unix
 * socket (no TCP, no grant tables), clean stop, SIGKILL, and the error log.
 *
 * Invariants:
 *  1. Everything the server writes outside InnoDB's files (socket, pid file,
 *     error log, tmpdir) lives in a run-ledger folder, never on the device:
 *     the device holds the datadir only.
 *  2. Every process started here carries the run marker and is registered for
 *     teardown, so a failed or interrupted run leaves none.
 *  3. A start ends as ready (accepts connections) or refused (the server
 *     exited; its error log says why) — never as a guess.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createConnection, Connection } from 'mariadb';
import { run, runOk, sleep } from '../../src/export/exec';
import { RUN_ENV, RunLedger } from '../../src/export/ledger';
import { LocalServerProcess, OsUser, StartResult } from '../common/server-process';

export type { StartResult };
import { MARIADB_SERVER, MariadbTool, mariadbTool, mysqlUser } from './runtime';

export type { Connection };

export interface MariadbServerOptions {
  dataDir: string;
  /** Folder for socket, pid file, error log and tmpdir (outside the device). */
  runDir: string;
  /** Server options (name -> value), passed as --name=value. */
  settings: Record<string, string>;
  ledger: RunLedger;
}

function env(ledger: RunLedger): NodeJS.ProcessEnv {
  return { PATH: '/usr/sbin:/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', HOME: '/tmp', [RUN_ENV]: ledger.runId };
}

/** One innochecksum run over one file: its output and exit status. */
export interface InnochecksumRun {
  file: string;
  output: string;
  code: number | null;
}

/**
 * A MariaDB server lifetime, wherever its binaries run: this host
 * (MariadbServer) or a container (container-server.ts). The cycle, the
 * checks and the oracle see only this.
 */
export interface MariadbInstance {
  readonly opts: MariadbServerOptions;
  readonly socket: string;
  installDb(): Promise<void>;
  start(timeoutMs?: number): Promise<StartResult>;
  connect(timeoutMs?: number): Promise<Connection>;
  stop(timeoutMs?: number): Promise<{ clean: boolean; exitCode: number | null | undefined }>;
  /** SIGKILL the server now, without waiting for anything; the host pids killed. */
  kill(): number[];
  waitGone(pids: number[], timeoutMs?: number): Promise<number[]>;
  logSinceStart(): string;
  /** innochecksum (of the server's own version) over files of the stopped server's datadir, in order. */
  innochecksum(files: string[], args: string[]): Promise<InnochecksumRun[]>;
}

/** Connect to a server's Unix socket as root (no grant tables). */
export async function connectSocket(socketPath: string, timeoutMs: number): Promise<Connection> {
  const c = await createConnection({ socketPath, user: 'root', multipleStatements: true, bigIntAsNumber: true, decimalAsNumber: false, connectTimeout: timeoutMs });
  c.on('error', () => undefined); // a killed server must not crash the process
  return c;
}

export class MariadbServer extends LocalServerProcess implements MariadbInstance {
  readonly user: OsUser;

  constructor(readonly opts: MariadbServerOptions) {
    super(opts.ledger);
    const u = mysqlUser();
    if (!u) throw new Error('no mysql OS user');
    this.user = u;
    fs.mkdirSync(path.join(opts.runDir, 'tmp'), { recursive: true, mode: 0o755 });
    fs.chownSync(opts.runDir, u.uid, u.gid);
    fs.chownSync(path.join(opts.runDir, 'tmp'), u.uid, u.gid);
  }

  get socket(): string {
    return path.join(this.opts.runDir, 'mysqld.sock');
  }

  get logFile(): string {
    return path.join(this.opts.runDir, 'error.log');
  }

  /** The command line: --no-defaults first, so no /etc/mysql file changes a cycle. */
  private args(): string[] {
    const o = this.opts;
    const args = [
      '--no-defaults',
      `--datadir=${o.dataDir}`,
      `--socket=${this.socket}`,
      `--pid-file=${path.join(o.runDir, 'mysqld.pid')}`,
      `--log-error=${this.logFile}`,
      `--tmpdir=${path.join(o.runDir, 'tmp')}`,
      `--user=${this.user.name}`,
      '--skip-networking',
      '--skip-grant-tables',
    ];
    for (const [k, v] of Object.entries(o.settings)) args.push(`--${k}=${v}`);
    return args;
  }

  /** mariadb-install-db into the (empty) datadir, with the settings fixed at creation (page size, redo size). */
  async installDb(): Promise<void> {
    const { dataDir } = this.opts;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o750 });
    fs.chownSync(dataDir, this.user.uid, this.user.gid);
    const args = ['--no-defaults', `--datadir=${dataDir}`, `--user=${this.user.name}`, '--skip-test-db', '--skip-name-resolve', `--tmpdir=${path.join(this.opts.runDir, 'tmp')}`];
    for (const [k, v] of Object.entries(this.opts.settings)) args.push(`--${k}=${v}`);
    await runOk(mariadbTool('mariadb-install-db'), args, { env: env(this.opts.ledger), timeoutMs: 180_000, cwd: this.opts.runDir });
  }

  /** Start mariadbd (InnoDB crash recovery first if needed); wait until it accepts connections or exits. */
  async start(timeoutMs = 150_000): Promise<StartResult> {
    const t0 = Date.now();
    const o = this.opts;
    try {
      fs.rmSync(this.socket, { force: true });
    } catch {
      // not there
    }
    const exitCode = this.spawnServer({ command: MARIADB_SERVER, args: this.args(), env: env(o.ledger), logFile: this.logFile, owner: this.user, runAs: false, cwd: o.runDir, label: 'mariadbd' });
    while (Date.now() - t0 < timeoutMs) {
      if (exitCode() !== undefined) {
        this.forget();
        return { ready: false, ms: Date.now() - t0, exitCode: exitCode() };
      }
      if (fs.existsSync(this.socket)) {
        try {
          const c = await this.connect(2000);
          await c.end();
          return { ready: true, ms: Date.now() - t0 };
        } catch {
          // not yet
        }
      }
      await sleep(25);
    }
    return { ready: false, ms: Date.now() - t0 };
  }

  connect(timeoutMs = 10_000): Promise<Connection> {
    return connectSocket(this.socket, timeoutMs);
  }

  /** Clean shutdown (SIGTERM: InnoDB's normal shutdown); true if mariadbd exited with status 0. */
  stop(timeoutMs = 120_000): Promise<{ clean: boolean; exitCode: number | null | undefined }> {
    return this.stopWith('SIGTERM', timeoutMs);
  }

  /** Run a MariaDB tool (innochecksum reads the datadir of a stopped server). */
  runTool(tool: MariadbTool, args: string[], timeoutMs = 120_000) {
    return run(mariadbTool(tool), args, { env: env(this.opts.ledger), timeoutMs, cwd: this.opts.runDir });
  }

  async innochecksum(files: string[], args: string[]): Promise<InnochecksumRun[]> {
    const out: InnochecksumRun[] = [];
    for (const file of files) {
      const r = await this.runTool('innochecksum', [...args, file]);
      out.push({ file, output: r.stdout + r.stderr, code: r.code });
    }
    return out;
  }
}

/** The interesting lines of an error log: InnoDB errors and warnings, recovery progress, the refusal. */
export function notableLogLines(log: string, max = 40): string[] {
  const re = /\[ERROR\]|\[Warning\] InnoDB|corrupt|checksum|Starting crash recovery|Apply batch|recovery|Aborting|assertion|signal \d+/i;
  const noise = /Could not increase number of max_open_files|Plugin 'FEEDBACK'|io_uring|innodb_use_native_aio/;
  return log
    .split('\n')
    .filter((l) => re.test(l) && !noise.test(l))
    .slice(0, max);
}
