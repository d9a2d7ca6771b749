/**
 * PostgreSQL in a container (the `container` runtime): the same PgInstance
 * as the local server, its binaries from a tornlab image of the chosen major
 * version (src/export/containers/images.ts). The data folder stays on the
 * host's mount of the emulated device and the socket folder on the host;
 * both are bind-mounted at the same paths, so the host's client, the oracle
 * and the cycle's paths need no translation. FUSE, loop and mount stay on the
 * host; the container runs unprivileged, without a network.
 *
 * One fresh container per server lifetime (a phase: base build, load,
 * recovery + verify), the postmaster its first process; tools run inside it
 * while it is up (docker exec), in a one-shot container otherwise (initdb,
 * pg_waldump before recovery, pg_checksums after the clean shutdown).
 *
 * Invariants:
 * 1. The data and socket folders belong to the image's postgres uid/gid
 *    (recorded as labels at import), not the host's postgres user.
 * 2. kill() returns at once (ServerContainer invariant 2).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, newClient } from './pg-client';
import { CommandResult } from '../../src/export/exec';
import { ServerContainer, runOnce } from '../../src/export/containers/containers';
import { imageLabels, imageTag, pgImage } from '../../src/export/containers/images';
import { waitGone } from '../../src/export/processes';
import { PgInstance, PgToolName, ServerOptions, StartResult } from './server';
import { logSince } from '../common/server-process';

export interface PgContainerImage {
  tag: string;
  version: string;
  uid: number;
  gid: number;
}

/** The image of a PostgreSQL major version, if setup made it. */
export async function resolvePgImage(version: string): Promise<PgContainerImage> {
  const spec = pgImage(version);
  const tag = imageTag(spec);
  const labels = await imageLabels(tag);
  const uid = Number(labels['tornlab.postgres.uid']);
  const gid = Number(labels['tornlab.postgres.gid']);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`image ${tag} does not record the postgres uid/gid; rebuild it with tornlab containers setup`);
  return { tag, version, uid, gid };
}

const READY = /database system is ready to accept connections/;

export class PgContainerServer implements PgInstance {
  private server: ServerContainer | undefined;
  private logOffset = 0;
  private readonly bin: string;

  constructor(
    readonly opts: ServerOptions,
    readonly image: PgContainerImage,
  ) {
    this.bin = `/usr/lib/postgresql/${image.version}/bin`;
    fs.mkdirSync(opts.socketDir, { recursive: true, mode: 0o755 });
    fs.chownSync(opts.socketDir, image.uid, image.gid);
    fs.appendFileSync(opts.logFile, '');
  }

  /** The mount point holding the data folder, and the socket folder (invariant 1). */
  private get binds(): string[] {
    return [path.dirname(this.opts.dataDir), this.opts.socketDir];
  }

  get connection(): { host: string; port: number; user: string; database: string } {
    return { host: this.opts.socketDir, port: this.opts.port, user: 'postgres', database: 'postgres' };
  }

  private once(command: string[], timeoutMs: number): Promise<CommandResult> {
    return runOnce({ image: this.image.tag, command, user: 'postgres', binds: this.binds, ledger: this.opts.ledger }, timeoutMs);
  }

  async initdb(): Promise<void> {
    const { dataDir } = this.opts;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.chownSync(dataDir, this.image.uid, this.image.gid);
    const r = await this.once([`${this.bin}/initdb`, '-D', dataDir, '--data-checksums', '-A', 'trust', '-U', 'postgres', '--locale=C', '-E', 'UTF8', '--no-instructions', '--no-sync'], 120_000);
    if (r.code !== 0) throw new Error(`initdb (PostgreSQL ${this.image.version}, container) failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }

  async start(timeoutMs = 120_000): Promise<StartResult> {
    const o = this.opts;
    this.logOffset = fs.statSync(o.logFile).size;
    const args = [`${this.bin}/postgres`, '-D', o.dataDir, '-p', String(o.port), '-k', o.socketDir, '-c', 'listen_addresses='];
    for (const [k, v] of Object.entries(o.settings)) args.push('-c', `${k}=${v}`);
    this.server = new ServerContainer({ image: this.image.tag, command: args, user: 'postgres', binds: this.binds, logFile: o.logFile, readyLine: READY, startupTimeoutMs: timeoutMs, ledger: o.ledger });
    const st = await this.server.start();
    if (!st.ready) {
      this.server = undefined;
      // The log stream ended: the postmaster exited (its status went with the container); else the wait timed out.
      return { ready: false, ms: st.ms, exitCode: /Log stream ended/.test(st.error ?? '') ? null : undefined };
    }
    // The log line comes just before the socket accepts; make sure it does.
    for (let i = 0; i < 200; i++) {
      const c = newClient({ ...this.connection, connectionTimeoutMillis: 2000 });
      try {
        await c.connect();
        await c.end();
        break;
      } catch {
        await c.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return { ready: true, ms: st.ms };
  }

  async connect(): Promise<Client> {
    const c = newClient(this.connection);
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  async stop(timeoutMs = 120_000): Promise<{ clean: boolean; exitCode: number | null | undefined }> {
    const s = this.server;
    if (!s || !s.running) return { clean: false, exitCode: undefined };
    const code = await s.signalAndWait('SIGINT', timeoutMs);
    if (code === undefined) {
      this.kill();
      return { clean: false, exitCode: undefined };
    }
    this.server = undefined;
    return { clean: code === 0, exitCode: code };
  }

  kill(): number[] {
    const s = this.server;
    this.server = undefined;
    return s ? s.kill() : [];
  }

  waitGone(pids: number[], timeoutMs = 15_000): Promise<number[]> {
    return waitGone(pids, timeoutMs);
  }

  logSinceStart(): string {
    return logSince(this.opts.logFile, this.logOffset);
  }

  runTool(tool: PgToolName, args: string[], timeoutMs = 300_000): Promise<CommandResult> {
    const cmd = [`${this.bin}/${tool}`, ...args];
    if (this.server?.running) return this.server.exec(cmd, 'postgres', timeoutMs);
    return this.once(cmd, timeoutMs);
  }
}
