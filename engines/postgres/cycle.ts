/**
 * Crash cycles of real PostgreSQL on the emulated device.
 *
 * A cycle: power a device on from the base image (copy-on-write, no initdb;
 * base-image.ts), mount it, start PostgreSQL, run the bank workload (and
 * pgbench if asked), cut the power — during a CHECKPOINT (targeted) or at a
 * seeded point of the write stream — kill the server, then recover and
 * verify the crash image (verify.ts). The cell's configuration is config.ts,
 * a cycle's record result.ts.
 *
 * Every phase runs under a watchdog deadline (src/export/watchdog.ts, scaled
 * by `pgDeadlines`); a phase that passes it ends the cycle as
 * `harness-error`, naming the phase and what was stuck. The device and its
 * FUSE server live in the device host process, so nothing this module does
 * (spawning, killing, unmounting) can starve them.
 *
 * Invariants:
 *  1. Every random choice comes from Prng(seed, `pg/cycle<N>`): the device
 *     seed, the cut, the survivors and the load, so a replay id reruns the
 *     same cycle.
 *  2. A commit counts as acknowledged only if its acknowledgement arrived
 *     before the cut instant (BankWorkload.markCut).
 *  3. The targeted cut strikes only at a data-writeback-sized write inside
 *     the CHECKPOINT, once the device cache holds a seeded amount of data.
 */
import * as fs from 'node:fs';
import { Client } from './pg-client';
import { guard, outlastingGuard } from '../../src/export/watchdog';
import { HarnessError } from '../../src/util/errors';
import { sleep } from '../../src/export/exec';
import { RunLedger, runLedger } from '../../src/export/ledger';
import { PgShapeContext, cycleShape, loadShape } from './write-shape';
import { fsInForce } from '../../src/export/fs-options';
import { markedProcesses } from '../../src/export/processes';
import { Prng } from '../../src/util/prng';
import { BankWorkload } from '../common/bank-workload';
import { deviceBytes, commitLatencySummaryUs, noteHarnessError } from '../common/cycle-result';
import { runCellCycles } from '../common/cell-cycles';
import { cutRace, powerOnCycleDevice, recordCut, recordExportStats, releaseCycleStack } from '../common/cycle-stack';
import { pgTransfer } from './bank';
import { BaseImage, baseImage, newServer, refuseFullDevice, resolveRuntime } from './base-image';
import { PgCellConfig, PgDeadlines, PgTestHooks, pgDeadlines, pgReplayId, serverSettings, validateCell } from './config';
import { CycleResult, emptyCycleResult, harnessResult, lsnToNumber } from './result';
import { checkPgSettings } from './runtime';
import { PgInstance } from './server';
import { keepNote, recoverAndVerify } from './verify';
import type { Verdict } from './verdict';

/** Range of the device-cache fill (KiB) at which a targeted cut strikes during a CHECKPOINT. */
const CUT_MIN_DIRTY_KIB = 32;
const CUT_MAX_DIRTY_KIB = 256;
/** Only a data-writeback-sized request triggers the targeted cut (WAL and journal writes are smaller). */
const CUT_MIN_WRITE_BYTES = 64 * 1024;

async function safeQuery(c: Client, sql: string): Promise<Record<string, unknown>[] | undefined> {
  try {
    return (await c.query(sql)).rows;
  } catch {
    return undefined;
  }
}

async function walSnapshot(c: Client): Promise<{ lsn: string; bytes: number; fpi: number; records: number } | undefined> {
  const rows = await safeQuery(c, 'SELECT pg_current_wal_lsn()::text AS lsn, wal_bytes::text AS b, wal_fpi::text AS f, wal_records::text AS r FROM pg_stat_wal');
  if (!rows) return undefined;
  return { lsn: rows[0].lsn as string, bytes: Number(rows[0].b), fpi: Number(rows[0].f), records: Number(rows[0].r) };
}


/** Run one crash cycle. */
export async function runCycle(cfg: PgCellConfig, base: BaseImage, cycle: number, ledger = runLedger(), d = pgDeadlines(cfg), hooks: PgTestHooks = {}): Promise<CycleResult> {
  const t0 = Date.now();
  const cyclePrng = new Prng(cfg.seed, `pg/cycle${cycle}`);
  const settings = serverSettings(cfg);
  const on = await powerOnCycleDevice({ profile: cfg.profile, faults: cfg.faults, base, cyclePrng, fs: cfg.fs, mountOptions: cfg.mountOptions, ledger, exportMs: d.export });
  if ('error' in on) return harnessResult(cfg, cycle, on.error, t0);
  const { dev, stack } = on;
  const c0 = deviceBytes(await dev.counters());
  const res = emptyCycleResult(cfg, cycle, c0);

  const dev0 = res.device.load;
  const server = newServer(cfg, ledger, stack.mountPoint!, settings);
  const bank = new BankWorkload<Client>(cfg.accounts, cyclePrng.fork('bank'), pgTransfer);
  stack.fuse!.onCut(() => bank.markCut());
  const untilCut = cutRace(stack);
  const clients: Client[] = [];
  let pgbench: ReturnType<PgInstance['runTool']> | undefined;
  let released = false;
  try {
    // What the kernel and the file system report in force on this mount (not what was asked for).
    res.fsInForce = await guard('export', d.export, fsInForce(cfg.fs, stack.loopDevice!, stack.mountPoint!));
    const st = await guard('start', d.start, server.start(outlastingGuard(d.start)));
    res.ms.start = Date.now() - t0;
    if (!st.ready) throw new Error(`postgres did not start from the base image:\n${server.logSinceStart()}`);
    const ctl = await guard('start', d.start, server.connect());
    if (cfg.writeShape) await guard('start', d.start, stack.fuse!.startTrace());
    if (hooks.hangAfterStart) await stack.fuse!.hang();
    const wal0 = await guard('load', d.load, walSnapshot(ctl));
    for (let i = 0; i < cfg.clients; i++) clients.push(await guard('load', d.load, server.connect()));
    const tLoad = Date.now();
    let walCut: Awaited<ReturnType<typeof walSnapshot>>;
    let shapeCtx: PgShapeContext | undefined;
    await guard('load', d.load, loadUntilCut());
    res.ms.load = Date.now() - tLoad;
    if (!stack.fuse!.isCut) await guard('cut', d.cut, stack.cut());
    // --- the cut: kill everything that used the file system, then release it
    const tCut = Date.now();
    await recordCut(res, stack, dev, dev0);
    const victims = server.kill();
    for (const p of killMarkedPgbench(ledger)) victims.push(p);
    const checkpointTrace = shapeCtx ? await stack.fuse!.takeTrace() : undefined;
    if (shapeCtx) res.writeShape = cycleShape(cfg.profile, shapeCtx, checkpointTrace);
    await recordExportStats(res, stack);
    keepNote(cfg, cycle, 'load.log', server.logSinceStart());
    await guard('cut', d.cut, stack.release());
    released = true;
    await guard('cut', d.cut, server.waitGone(victims));
    for (const c of [ctl, ...clients]) void c.end().catch(() => undefined);
    await guard('cut', d.cut, bank.settled());
    res.workload.acked = bank.acked.length;
    res.workload.commitLatencyUs = commitLatencySummaryUs(bank.latenciesUs);
    res.workload.attempted = bank.attempted;
    if (wal0 && !walCut!) res.wal.startLsn = wal0.lsn; // cut before the snapshot: pg_waldump finds the end
    if (wal0 && walCut!) {
      res.wal = {
        startLsn: wal0.lsn,
        endLsn: walCut.lsn,
        lsnBytes: lsnToNumber(walCut.lsn) - lsnToNumber(wal0.lsn),
        records: -1,
        fpi: -1,
        walBytes: walCut.bytes - wal0.bytes,
        walFpi: walCut.fpi - wal0.fpi,
        walRecords: walCut.records - wal0.records,
      };
    }
    res.ms.cut = Date.now() - tCut;
    // --- recovery on the crash image
    await recoverAndVerify(cfg, dev, cyclePrng, bank.acked, res, ledger, d);

    /** The load, and the targeted cut inside a CHECKPOINT; returns once the power is cut or the load ended. */
    async function loadUntilCut(): Promise<void> {
    const cutPrng = cyclePrng.fork('cut');
    let cutPromise: Promise<unknown> | undefined;
    if (cfg.crashAt === 'seeded') {
      res.cut.afterWrites = cutPrng.int(1, 400);
      cutPromise = stack.armCut({ afterWrites: res.cut.afterWrites });
    }
    bank.start(clients);
    if (cfg.pgbenchClients > 0) {
      pgbench = server.runTool('pgbench', ['-n', '-c', String(cfg.pgbenchClients), '-T', '600', '-h', server.opts.socketDir, '-p', String(server.opts.port), '-U', 'postgres', 'postgres'], 700_000);
      void pgbench.catch(() => undefined);
    }
    if (cutPromise) {
      const first = await Promise.race([cutPromise.then(() => 'cut'), sleep(cfg.loadMs).then(() => 'time')]);
      if (first !== 'cut') res.cut.trigger = 'end-of-load';
    } else {
      await sleep(cfg.loadMs);
    }
    if (!stack.fuse!.isCut) {
      walCut = await untilCut(walSnapshot(ctl));
      if (stack.fuse!.isCut) walCut = undefined;
      if (cfg.crashAt === 'checkpoint' && !stack.fuse!.isCut) {
        const dirty = await safeQuery(ctl, 'SELECT count(*)::int AS n FROM pg_buffercache WHERE isdirty');
        res.cut.dirtyBuffers = dirty ? Number(dirty[0].n) : 0;
        // The load's write shape, and the file map the checkpoint's writes are read against (nothing is armed yet).
        const loadTrace = cfg.writeShape ? await untilCut(stack.fuse!.takeTrace()) : undefined;
        if (loadTrace) shapeCtx = await untilCut(loadShape(cfg.profile, loadTrace, stack.mountPoint!, server.opts.dataDir));
        if (stack.fuse!.isCut) return;
        // Cut inside the checkpoint's data writeback: once the device cache holds a seeded
        // amount of not-yet-flushed data (commits' WAL flushes keep it near empty otherwise).
        res.cut.dirtyBytesAtLeast = cutPrng.int(CUT_MIN_DIRTY_KIB, CUT_MAX_DIRTY_KIB) * 1024;
        await stack.fuse!.resetMaxDirty();
        const armed = stack.armCut({ dirtyBytesAtLeast: res.cut.dirtyBytesAtLeast, minWriteBytes: CUT_MIN_WRITE_BYTES });
        const ckpt = ctl.query('CHECKPOINT').then(
          () => 'done',
          () => 'error',
        );
        const first = await Promise.race([armed.then(() => 'cut'), ckpt]);
        if (first !== 'cut') res.cut.trigger = 'after-checkpoint';
      }
    }
    }
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    noteHarnessError(res, e);
  } finally {
    server.kill();
    await releaseCycleStack(res, stack, dev, released, d.release);
  }
  res.ms.total = Date.now() - t0;
  return res;
}

/** pgbench runs as a client tool with our marker; find and kill it at the cut. */
function killMarkedPgbench(ledger: RunLedger): number[] {
  const out: number[] = [];
  for (const p of markedProcesses(ledger.runId)) {
    try {
      const comm = fs.readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim();
      if (comm === 'pgbench') {
        process.kill(p.pid, 'SIGKILL');
        out.push(p.pid);
      }
    } catch {
      // gone
    }
  }
  return out;
}

// ------------------------------------------------------------------- cell

export interface CellResult {
  config: PgCellConfig;
  settings: Record<string, string>;
  base: { blocks: number; buildMs: number };
  cycles: CycleResult[];
  verdicts: Partial<Record<Verdict, number>>;
  /** Any cycle not ok. */
  finding: boolean;
  medianCycleMs: number;
}

/** Run a cell: preconditions, base image, `crashes` cycles. */
export async function runPgCell(
  cfg: PgCellConfig,
  opts: {
    onCycle?: (r: CycleResult) => void;
    ledger?: RunLedger;
    /** Run only cycles from this one on (replay of one cycle). */
    fromCycle?: number;
    /** A shard (src/crash/shard.ts): run only the cycles whose replay id it owns (cycles are independent: each has its own seeded stream). */
    owns?: (replayId: string) => boolean;
    /** Override phase deadlines (ms, before the deadline factor). */
    deadlines?: Partial<PgDeadlines>;
    hooks?: PgTestHooks;
  } = {},
): Promise<CellResult> {
  validateCell(cfg);
  await resolveRuntime(cfg);
  // A setting the server refuses is bad input, found before any work (the local binaries judge it).
  if (cfg.runtime !== 'container') await checkPgSettings(cfg.settings);
  const ledger = opts.ledger ?? runLedger();
  const d = { ...pgDeadlines(cfg), ...opts.deadlines };
  const { base, ...run } = await runCellCycles({
    crashes: cfg.crashes,
    fromCycle: opts.fromCycle,
    owns: opts.owns,
    replayId: (i) => pgReplayId(cfg, i),
    baseImage: () => baseImage(cfg, ledger, d).catch((e: unknown) => refuseFullDevice(cfg, e)),
    cycle: (b, i) => runCycle(cfg, b, i, ledger, d, opts.hooks),
    onCycle: opts.onCycle,
    ...(cfg.runtime === 'container' ? { containers: { runId: ledger.runId, releaseMs: d.release } } : {}),
  });
  return { config: cfg, settings: serverSettings(cfg), base: { blocks: base.blocks, buildMs: base.buildMs }, ...run };
}
