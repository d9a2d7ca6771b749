/**
 * MariaDB in a container (the `container` runtime): the same
 * MariadbInstance as the local server, its binaries from a tornlab image of
 * the chosen version (10.11 from bookworm, 11.8 from trixie;
 * src/export/containers/images.ts). The datadir stays on the host's mount of
 * the emulated device and the run folder (socket, pid file, tmpdir, error
 * log) on the host; both are bind-mounted at the same paths, so the host's
 * client, the oracle, the checks and the cycle need no path translation.
 * FUSE, loop and mount stay on the host; the container runs unprivileged,
 * without a network, as the image's mysql user.
 *
 * One fresh container per server lifetime (base build, load, recovery +
 * verify). Its first process is a small shell that runs mariadbd, its error
 * log on stderr (the container's log, appended to the run folder's
 * error.log; the wait strategy reads it for the ready line). When mariadbd
 * exits after it was ready (the clean shutdown before innochecksum), the
 * shell prints the exit status and stays, so innochecksum runs in the same
 * container (docker exec: all files in one call) instead of a new one; a
 * mariadbd that exits before it was ready ends the container, which ends the
 * wait. mariadbd is signalled from the host by its host pid (SIGTERM: clean
 * shutdown). mariadb-install-db and an innochecksum without a stopped
 * container run in one-shot containers of the same image.
 *
 * Why innochecksum of the same version, not the host's: innochecksum reads
 * the page format of the server that wrote the files (checksum algorithm,
 * full_crc32 flags, page types), and a 10.11 tool judging 11.8 files would
 * make the verdict depend on the host's package, not on the device. CHECK
 * TABLE runs on the server itself, so it is the server's version anyway.
 *
 * Invariants:
 * 1. The run folder and the datadir belong to the image's mysql uid/gid
 *    (recorded as labels at import), not to a host user.
 * 2. kill() returns at once (ServerContainer invariant 2).
 * 3. innochecksum() returns one result per file, in order, or marks the
 *    files it has no result for (checks.ts reads those as unreadable).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ServerContainer, runOnce } from '../../src/export/containers/containers';
import { IMAGES, ImageName, imageLabels, imageTag } from '../../src/export/containers/images';
import { descendants, waitGone } from '../../src/export/processes';
import { sleep } from '../../src/export/exec';
import { Connection, InnochecksumRun, MariadbInstance, MariadbServerOptions, StartResult, connectSocket } from './server';
import { logSince } from '../common/server-process';

/** MariaDB versions with a tornlab image. */
export const MARIADB_VERSIONS = ['10.11', '11.8'] as const;
export type MariadbVersion = (typeof MARIADB_VERSIONS)[number];

export interface MariadbContainerImage {
  tag: string;
  version: string;
  uid: number;
  gid: number;
}

export function mariadbImageName(version: string): ImageName {
  const name = `mariadb${version}` as ImageName;
  if (!IMAGES[name] || IMAGES[name].engine !== 'mariadb') throw new Error(`no MariaDB ${version} image (have ${MARIADB_VERSIONS.join(', ')})`);
  return name;
}

/** The image of a MariaDB version, if setup made it. */
export async function resolveMariadbImage(version: string): Promise<MariadbContainerImage> {
  const tag = imageTag(IMAGES[mariadbImageName(version)]);
  const labels = await imageLabels(tag);
  const uid = Number(labels['tornlab.mysql.uid']);
  const gid = Number(labels['tornlab.mysql.gid']);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`image ${tag} does not record the mysql uid/gid; rebuild it with tornlab containers setup`);
  return { tag, version, uid, gid };
}

/** mariadbd's last startup line, on 10.11 and 11.8 alike. */
const READY = /mariadbd: ready for connections/;
const MARK = '@@tornlab-innochecksum';
const EXIT_MARK = '@@tornlab-mariadbd-exit';
/** $1: the keep file (the host makes it once mariadbd is ready); then mariadbd's command line. */
const WRAPPER = `k=$1; shift; "$@"; c=$?; echo "${EXIT_MARK} $c" >&2; [ -e "$k" ] && exec sleep infinity; exit $c`;

export class MariadbContainerServer implements MariadbInstance {
  private server: ServerContainer | undefined;
  /** The container whose mariadbd shut down cleanly, kept for innochecksum. */
  private stopped: ServerContainer | undefined;
  private logOffset = 0;

  constructor(
    readonly opts: MariadbServerOptions,
    readonly image: MariadbContainerImage,
  ) {
    fs.mkdirSync(path.join(opts.runDir, 'tmp'), { recursive: true, mode: 0o755 });
    fs.chownSync(opts.runDir, image.uid, image.gid);
    fs.chownSync(path.join(opts.runDir, 'tmp'), image.uid, image.gid);
    fs.appendFileSync(this.logFile, '');
  }

  get socket(): string {
    return path.join(this.opts.runDir, 'mysqld.sock');
  }

  get logFile(): string {
    return path.join(this.opts.runDir, 'error.log');
  }

  private get keepFile(): string {
    return path.join(this.opts.runDir, 'keep-container');
  }

  /** mariadbd's host pid: the wrapper shell's child. */
  private mariadbdPid(): number | undefined {
    const root = this.server?.pid;
    if (root === undefined) return undefined;
    for (const p of descendants(root)) {
      try {
        if (fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'mariadbd') return p;
      } catch {
        // gone
      }
    }
    return undefined;
  }

  /** The mount point holding the datadir, and the run folder (invariant 1). */
  private get binds(): string[] {
    return [path.dirname(this.opts.dataDir), this.opts.runDir];
  }

  private settingArgs(): string[] {
    return Object.entries(this.opts.settings).map(([k, v]) => `--${k}=${v}`);
  }

  async installDb(): Promise<void> {
    const { dataDir, runDir } = this.opts;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o750 });
    fs.chownSync(dataDir, this.image.uid, this.image.gid);
    const cmd = ['/usr/bin/mariadb-install-db', '--no-defaults', `--datadir=${dataDir}`, '--skip-test-db', '--skip-name-resolve', `--tmpdir=${path.join(runDir, 'tmp')}`, ...this.settingArgs()];
    const r = await runOnce({ image: this.image.tag, command: cmd, user: 'mysql', binds: this.binds, ledger: this.opts.ledger }, 180_000);
    if (r.code !== 0) throw new Error(`mariadb-install-db (MariaDB ${this.image.version}, container) failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  }

  async start(timeoutMs = 150_000): Promise<StartResult> {
    const o = this.opts;
    this.logOffset = fs.statSync(this.logFile).size;
    fs.rmSync(this.socket, { force: true });
    fs.rmSync(this.keepFile, { force: true });
    // No --log-error: the error log goes to stderr, the container's log, where the wait strategy reads it.
    // --skip-ssl: no TCP, so TLS is never used, and 11.4+ would make a self-signed certificate at every start (1-2 s here).
    const args = ['/usr/sbin/mariadbd', '--no-defaults', `--datadir=${o.dataDir}`, `--socket=${this.socket}`, `--pid-file=${path.join(o.runDir, 'mysqld.pid')}`, `--tmpdir=${path.join(o.runDir, 'tmp')}`, '--skip-networking', '--skip-grant-tables', '--skip-ssl', ...this.settingArgs()];
    this.server = new ServerContainer({ image: this.image.tag, command: ['/bin/sh', '-c', WRAPPER, 'sh', this.keepFile, ...args], user: 'mysql', binds: this.binds, logFile: this.logFile, readyLine: READY, startupTimeoutMs: timeoutMs, ledger: o.ledger });
    const st = await this.server.start();
    if (!st.ready) {
      this.server = undefined;
      // The log stream ended: mariadbd exited (its status went with the container); else the wait timed out.
      const code = this.exitStatusInLog();
      return { ready: false, ms: st.ms, exitCode: code ?? (/Log stream ended/.test(st.error ?? '') ? null : undefined) };
    }
    fs.writeFileSync(this.keepFile, '');
    // The ready line comes as the socket opens; make sure it accepts. A server that died right after
    // it (seen once with 11.8 after crash recovery: no socket) is not ready: the cycle judges its log,
    // where a connect on a missing socket would have ended the run as an internal error.
    for (let i = 0; i < 200; i++) {
      try {
        const c = await this.connect(2000);
        await c.end();
        return { ready: true, ms: st.ms };
      } catch {
        const code = this.exitStatusInLog();
        if (code !== undefined) {
          this.server = undefined;
          return { ready: false, ms: st.ms, exitCode: code };
        }
        await sleep(20);
      }
    }
    return { ready: false, ms: st.ms };
  }

  connect(timeoutMs = 10_000): Promise<Connection> {
    return connectSocket(this.socket, timeoutMs);
  }

  /** Clean shutdown: SIGTERM to mariadbd's host pid (InnoDB's normal shutdown); the container stays for innochecksum. */
  async stop(timeoutMs = 120_000): Promise<{ clean: boolean; exitCode: number | null | undefined }> {
    const s = this.server;
    const pid = this.mariadbdPid();
    if (!s || !s.running || pid === undefined) return { clean: false, exitCode: undefined };
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const alive = await waitGone([pid], timeoutMs);
    let code: number | undefined;
    // The wrapper prints the status right after the exit; the log stream may lag it a little.
    for (let i = 0; i < 250 && alive.length === 0 && code === undefined; i++) {
      code = this.exitStatusInLog();
      if (code === undefined) await sleep(20);
    }
    if (code === undefined) {
      this.kill();
      return { clean: false, exitCode: undefined };
    }
    this.server = undefined;
    this.stopped = s;
    return { clean: code === 0, exitCode: code };
  }

  kill(): number[] {
    const s = [this.server, this.stopped];
    this.server = undefined;
    this.stopped = undefined;
    return s.flatMap((c) => (c ? c.kill() : []));
  }

  waitGone(pids: number[], timeoutMs = 15_000): Promise<number[]> {
    return waitGone(pids, timeoutMs);
  }

  /** mariadbd's exit status as the wrapper printed it into this start's log, if it exited. */
  private exitStatusInLog(): number | undefined {
    const m = new RegExp(`${EXIT_MARK} (\\d+)`).exec(this.logSinceStart());
    return m ? Number(m[1]) : undefined;
  }

  logSinceStart(): string {
    return logSince(this.logFile, this.logOffset);
  }

  /** innochecksum of the image over every file, in one one-shot container (invariant 3). */
  async innochecksum(files: string[], args: string[]): Promise<InnochecksumRun[]> {
    if (files.length === 0) return [];
    for (const a of args) if (!/^[A-Za-z0-9=_-]+$/.test(a)) throw new Error(`innochecksum argument ${a} is not a plain option`);
    const script = `for f in "$@"; do /usr/bin/innochecksum ${args.join(' ')} "$f" 2>&1; echo "${MARK} $? $f"; done`;
    const command = ['/bin/sh', '-c', script, 'sh', ...files];
    const kept = this.stopped;
    if (!kept) {
      const r = await runOnce({ image: this.image.tag, command, user: 'mysql', binds: this.binds, ledger: this.opts.ledger }, 300_000);
      return parseInnochecksumRuns(r.stdout, files);
    }
    try {
      const r = await kept.exec(command, 'mysql', 300_000);
      return parseInnochecksumRuns(r.stdout, files);
    } finally {
      // Done with the container: nothing of it may hold the device's mount when the stack is released.
      this.stopped = undefined;
      await waitGone(kept.kill(), 15_000);
    }
  }
}

/** Split the one-shot container's output into one run per file (by the marker line after each). */
export function parseInnochecksumRuns(stdout: string, files: string[]): InnochecksumRun[] {
  const out: InnochecksumRun[] = [];
  let buf: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = line.startsWith(MARK + ' ') ? /^\S+ (\d+) (.*)$/.exec(line) : null;
    if (!m) {
      buf.push(line);
      continue;
    }
    const file = files[out.length];
    if (file !== m[2]) break; // out of step: the rest is unaccounted for (invariant 3)
    out.push({ file, output: buf.join('\n'), code: Number(m[1]) });
    buf = [];
  }
  return out;
}
