/**
 * PostgreSQL's base image and servers: the runtime a cell needs (local
 * binaries, or a container image resolved once per process and version), a
 * server on a mounted device, and the base image — initdb --data-checksums
 * plus the initial load, shut down cleanly — built once per process and
 * configuration (engines/common/base-image.ts).
 *
 * Invariants:
 *  1. resolveRuntime runs before any server of a container cell is made; it
 *     throws PreconditionError naming the fix when the runtime is missing.
 *  2. A base image that runs out of space is the user's sizing (exit 2, the
 *     size to give), not a harness failure.
 */
import * as path from 'node:path';
import { RunLedger, runLedger } from '../../src/export/ledger';
import { requireExport } from '../../src/export/preconditions';
import { ImageName } from '../../src/export/containers/images';
import { containerUnavailable } from '../../src/export/containers/availability';
import { DeviceFullError, PreconditionError } from '../../src/util/errors';
import { BaseImage, cachedBaseImage } from '../common/base-image';
import { schemaSql } from './bank';
import { PgCellConfig, containerPgVersion, dataSetMib, deviceMib, fsChoiceOf, nszeOf, pgDeadlines, serverSettings } from './config';
import { PgContainerImage, PgContainerServer, resolvePgImage } from './container-server';
import { missingForPostgres } from './runtime';
import { PgInstance, PgServer } from './server';

export type { BaseImage };

/** A base image that ran out of space is the user's sizing (exit 2): say how much the data set needs. */
const FULL_DEVICE_WORDS = /No space left on device|ENOSPC|could not extend file/;

export function refuseFullDevice(cfg: PgCellConfig, e: unknown): never {
  const text = e instanceof Error ? e.message : String(e);
  if (!FULL_DEVICE_WORDS.test(text)) throw e;
  const need = dataSetMib(cfg);
  throw new DeviceFullError(`the device is full: the base image (initdb and ${cfg.accounts} accounts${cfg.pgbenchClients > 0 ? `, pgbench scale ${cfg.pgbenchScale}` : ''}) does not fit in ${deviceMib(cfg)} MiB; give it more with --device-mib ${Math.max(need, deviceMib(cfg) * 2)} (the data set needs about ${need} MiB) or lower --accounts`, 0);
}

function baseKey(cfg: PgCellConfig): string {
  const runtime = cfg.runtime === 'container' ? `container-${containerPgVersion(cfg)}` : 'local';
  return JSON.stringify({ profile: cfg.profile, fs: cfg.fs, mkfs: cfg.mkfsOptions ?? [], mount: cfg.mountOptions ?? [], accounts: cfg.accounts, pgbench: cfg.pgbenchClients > 0 ? cfg.pgbenchScale : 0, nsze: nszeOf(cfg), runtime });
}

/** Container images resolved for this process, by major version (resolveRuntime fills it). */
const containerImages = new Map<string, PgContainerImage>();

/** Check what the cell's runtime needs; for containers, find the image (throws PreconditionError naming the fix). */
export async function resolveRuntime(cfg: PgCellConfig): Promise<void> {
  if (cfg.runtime !== 'container') {
    requireExport(cfg.fs, missingForPostgres());
    return;
  }
  requireExport(cfg.fs);
  const v = containerPgVersion(cfg);
  if (containerImages.has(v)) return;
  const why = await containerUnavailable(`pg${v}` as ImageName);
  if (why) throw new PreconditionError(`PostgreSQL ${v} in a container: ${why}`);
  containerImages.set(v, await resolvePgImage(v));
}

let portCounter = 0;
export function newServer(cfg: PgCellConfig, ledger: RunLedger, mountPoint: string, settings: Record<string, string>): PgInstance {
  portCounter++;
  const sock = ledger.newPath('sock');
  ledger.add('dir', sock);
  const opts = {
    dataDir: path.join(mountPoint, 'pgdata'),
    socketDir: sock,
    port: 20000 + ((process.pid * 7 + portCounter) % 20000),
    logFile: sock + '.log',
    settings,
    ledger,
  };
  if (cfg.runtime !== 'container') return new PgServer(opts);
  const image = containerImages.get(containerPgVersion(cfg));
  if (!image) throw new Error(`PostgreSQL ${containerPgVersion(cfg)} image not resolved (call resolveRuntime first)`);
  return new PgContainerServer(opts, image);
}

/**
 * The base image of a configuration: initdb --data-checksums plus the initial
 * load, shut down cleanly, built once per process and configuration, on a
 * device without faults (faults apply to the cycles, not to setup).
 */
export function baseImage(cfg: PgCellConfig, ledger = runLedger(), d = pgDeadlines(cfg)): Promise<BaseImage> {
  const spec = { engine: 'postgres', key: baseKey(cfg), profile: cfg.profile, seed: cfg.seed, nsze: nszeOf(cfg), fs: fsChoiceOf(cfg), ledger, deadlines: d };
  return cachedBaseImage(spec, async (mountPoint, onRelease) => {
    const server = newServer(cfg, ledger, mountPoint, { ...serverSettings({ ...cfg, fpw: true }), max_wal_size: '64MB' });
    onRelease(() => {
      server.kill();
    });
    try {
      await server.initdb();
      const st = await server.start();
      if (!st.ready) throw new Error(`postgres did not start on the base image:\n${server.logSinceStart()}`);
      const c = await server.connect();
      try {
        await c.query(schemaSql(cfg.accounts));
        await c.query('VACUUM ANALYZE'); // set hint bits and the visibility map now, not in every cycle
      } finally {
        await c.end().catch(() => undefined);
      }
      if (cfg.pgbenchClients > 0) {
        const r = await server.runTool('pgbench', ['-i', '-q', '-s', String(cfg.pgbenchScale), '-h', server.opts.socketDir, '-p', String(server.opts.port), '-U', 'postgres', 'postgres']);
        if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr}`);
      }
      const stop = await server.stop();
      if (!stop.clean) throw new Error(`postgres did not shut down cleanly on the base image:\n${server.logSinceStart()}`);
    } catch (e) {
      throw withFullDeviceLine(e, server.logSinceStart());
    }
  });
}

/**
 * A server that runs out of space may PANIC on a WAL write, and then the client only sees
 * "Connection terminated unexpectedly": the reason is in the server's log. Carry its line
 * into the error, so that refuseFullDevice (invariant 2) recognises it whichever side failed first.
 */
export function withFullDeviceLine(e: unknown, log: string): unknown {
  const text = e instanceof Error ? e.message : String(e);
  const line = log.split('\n').find((l) => FULL_DEVICE_WORDS.test(l));
  return line && !FULL_DEVICE_WORDS.test(text) ? new Error(`${text}; the server's log: ${line.trim()}`) : e;
}
