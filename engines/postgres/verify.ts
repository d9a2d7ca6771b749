/**
 * Recovery and verification of a PostgreSQL crash image: mount the image a
 * seeded survivor choice gives (e2fsck -p first), count the cycle's WAL with
 * pg_waldump before recovery touches pg_wal, start PostgreSQL (crash
 * recovery), check the bank oracle, run pg_amcheck (heap + btree), shut down
 * cleanly and run pg_checksums --check. The verdict follows ARCHITECTURE 4
 * (verdict.ts), with PostgreSQL's own messages attached.
 *
 * Invariants:
 *  1. Every step runs under its phase deadline (fsck, recovery-start,
 *     verify, release); the crash image is released whatever happened.
 *  2. A diagnostic kept with TORNLAB_KEEP_CRASH never changes a verdict: its
 *     failures are ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HostedDevice } from '../../src/export/device-host/client';
import { run } from '../../src/export/exec';
import { RunLedger } from '../../src/export/ledger';
import { guard, outlastingGuard } from '../../src/export/watchdog';
import { Prng } from '../../src/util/prng';
import { fsckFailed, mountCrashImage, releaseCrashImage } from '../common/cycle-stack';
import { OracleResult, checkOracle } from './bank';
import { newServer } from './base-image';
import { PgCellConfig, PgDeadlines, serverSettings } from './config';
import { CycleResult, WalStats, lsnToNumber, walSegmentName } from './result';
import { PgInstance, notableLogLines } from './server';
import { decideVerdict, logChecksumEvidence } from './verdict';

// ------------------------------------------------------------ diagnostics


/**
 * TORNLAB_KEEP_CRASH=DIR keeps what explains a cycle that did not end `ok`
 * (docs/postgres.md): the crash image's data folder before recovery
 * touched it (pgdata-crash/, for pg_waldump and pg_controldata), the
 * server logs of the load and of recovery, the cut (pending writes, the
 * survivor choice), the result, and on ext4 which file owns each pending
 * block (debugfs icheck + ncheck). An `ok` cycle's folder is removed. A
 * diagnostic never changes a verdict: its failures are ignored.
 */
function keepDir(cfg: PgCellConfig, cycle: number): string | undefined {
  const root = process.env.TORNLAB_KEEP_CRASH;
  if (!root) return undefined;
  const dir = path.join(root, `fpw-${cfg.fpw ? 'on' : 'off'}-seed${cfg.seed}-cycle${cycle}-pid${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    return undefined;
  }
  return dir;
}

export function keepNote(cfg: PgCellConfig, cycle: number, name: string, text: string): void {
  const dir = keepDir(cfg, cycle);
  try {
    if (dir) fs.writeFileSync(path.join(dir, name), text);
  } catch {
    // diagnostics only
  }
}

async function keepCrashImage(dir: string, mountPoint: string): Promise<void> {
  await run('cp', ['-a', path.join(mountPoint, 'pgdata'), path.join(dir, 'pgdata-crash')], { timeoutMs: 120_000 }).catch(() => undefined);
}

/** Which file owns each pending LBA (ext4 blocks of 4 KiB = device blocks on the 4 KiB profiles). */
async function keepBlockMap(dir: string, loop: string, pendingLbas: string[]): Promise<void> {
  const lbas: number[] = [];
  for (const r of pendingLbas) {
    const [a, n] = r.split('+').map(Number);
    for (let i = 0; i < n; i++) lbas.push(a + i);
  }
  try {
    const ic = await run('debugfs', ['-c', '-R', `icheck ${lbas.join(' ')}`, loop], { timeoutMs: 120_000 });
    const inodes = [...new Set(ic.stdout.split('\n').map((l) => l.trim().split(/\s+/)[1]).filter((x) => x && /^\d+$/.test(x)))];
    const nc = inodes.length ? await run('debugfs', ['-c', '-R', `ncheck ${inodes.join(' ')}`, loop], { timeoutMs: 120_000 }) : { stdout: '' };
    fs.writeFileSync(path.join(dir, 'blockmap.txt'), ic.stdout + '\n----\n' + nc.stdout);
  } catch {
    // diagnostics only
  }
}

/** Recover and verify the crash image of the cut device `cut`; fills `res` (verdict, checks, findings, recovery). */
export async function recoverAndVerify(cfg: PgCellConfig, cut: HostedDevice, cyclePrng: Prng, acked: number[], res: CycleResult, ledger: RunLedger, d: PgDeadlines): Promise<void> {
  const tRec = Date.now();
  const mounted = await mountCrashImage(res, cut, cyclePrng, { fs: cfg.fs, mountOptions: cfg.mountOptions, ledger, fsckMs: d.fsck });
  const rec = mounted.rec;
  let tVer = 0;
  const server = newServer(cfg, ledger, rec.stack.mountPoint!, serverSettings(cfg));
  const keep = keepDir(cfg, res.cycle);
  if (keep) {
    await keepCrashImage(keep, rec.stack.mountPoint!);
    keepNote(cfg, res.cycle, 'cut.json', JSON.stringify({ cut: res.cut, wal: res.wal, choices: rec.choices.toString(), choice: rec.choice, loop: rec.stack.loopDevice }, null, 1));
  }
  try {
    if (res.wal.startLsn && (rec.fsck?.code ?? 0) < 4) await guard('verify', d.verify, countWal(server, res.wal));
    if (fsckFailed(res, mounted)) return;
    const st = await guard('recovery-start', d.recoveryStart, server.start(outlastingGuard(d.recoveryStart)));
    res.recovery.ready = st.ready;
    res.recovery.ms = st.ms;
    res.ms.recovery = Date.now() - tRec;
    tVer = Date.now();
    if (!st.ready) {
      const log = server.logSinceStart();
      res.messages.push(...notableLogLines(log));
      res.recovery.zeroedMapPages = logChecksumEvidence(log).zeroedMapPages;
      res.verdict = decideVerdict({ recoveryFailed: true, log });
      res.findings.push(`PostgreSQL did not finish crash recovery (${st.exitCode === undefined ? 'postmaster exit timeout' : st.exitCode === null ? 'the postmaster exited' : `postmaster exit ${st.exitCode}`})`);
      return;
    }
    await guard('verify', d.verify, verify());
  } finally {
    server.kill();
    if (keep) {
      keepNote(cfg, res.cycle, 'recovery.log', server.logSinceStart());
      keepNote(cfg, res.cycle, 'result.json', JSON.stringify(res, null, 1));
      if (res.verdict === 'ok') fs.rmSync(keep, { recursive: true, force: true, maxRetries: 2 });
      else if (cfg.fs === 'ext4') await keepBlockMap(keep, rec.stack.loopDevice!, res.cut.pendingLbas);
    }
    await releaseCrashImage(res, mounted, d.release);
  }

  async function verify(): Promise<void> {
    const c = await server.connect();
    let oracle: OracleResult;
    try {
      oracle = await checkOracle(c, cfg.accounts, acked);
    } finally {
      await c.end().catch(() => undefined);
    }
    res.workload.presentTransfers = oracle.presentTransfers;
    res.checks.oracle = { ...oracle, balanceSum: String(oracle.balanceSum), expectedSum: String(oracle.expectedSum) };
    const conn = ['-h', server.opts.socketDir, '-p', String(server.opts.port), '-U', 'postgres'];
    const am = await server.runTool('pg_amcheck', [...conn, '--all', '--heapallindexed', '--install-missing']);
    res.checks.amcheck = { code: am.code, output: (am.stdout + am.stderr).trim().slice(0, 4000) };
    const stop = await server.stop();
    res.checks.cleanShutdown = stop.clean;
    const log = server.logSinceStart();
    if (stop.clean) {
      const ck = await server.runTool('pg_checksums', ['--check', '-D', server.opts.dataDir]);
      res.checks.checksums = { code: ck.code, output: (ck.stdout + ck.stderr).trim().slice(0, 4000) };
    }
    res.ms.verify = Date.now() - tVer;
    res.messages.push(...notableLogLines(log));
    res.recovery.zeroedMapPages = logChecksumEvidence(log).zeroedMapPages;
    const v = decideVerdict({ recoveryFailed: false, log, oracle, amcheck: res.checks.amcheck, checksums: res.checks.checksums, cleanShutdown: stop.clean });
    res.verdict = v;
    res.findings.push(...describeFindings(res));
  }
}

/**
 * Count records and full-page images of the cycle's WAL with pg_waldump on the
 * crash image, before recovery touches pg_wal: from the start LSN to the last
 * snapshot before the cut, or — when the cut came before any snapshot (seeded
 * cuts) — to the end of the WAL that survived the cut.
 */
async function countWal(server: PgInstance, wal: WalStats): Promise<void> {
  if (wal.endLsn && wal.startLsn === wal.endLsn) {
    wal.records = 0;
    wal.fpi = 0;
    return;
  }
  // Name the start segment: without it pg_waldump learns the segment size from whichever file
  // readdir returns first, and a pre-allocated, still zero-filled segment makes it give up.
  // The end segment must be named too (pg_waldump stops at it): the one holding the end LSN, or
  // the highest-numbered file in pg_wal when reading to the end of what survived.
  const walDir = path.join(server.opts.dataDir, 'pg_wal');
  let endSeg = wal.endLsn ? walSegmentName(wal.endLsn) : '';
  if (!endSeg) {
    const names = (await fs.promises.readdir(walDir)).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    endSeg = names[names.length - 1] ?? walSegmentName(wal.startLsn);
  }
  const args = ['-p', walDir, '-s', wal.startLsn, ...(wal.endLsn ? ['-e', wal.endLsn] : []), walSegmentName(wal.startLsn), endSeg];
  const r = await server.runTool('pg_waldump', args, 60_000);
  let records = 0;
  let fpi = 0;
  let lastLsn = '';
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('rmgr:')) continue;
    records++;
    fpi += (line.match(/ FPW/g) ?? []).length;
    lastLsn = /lsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line)?.[1] ?? lastLsn;
  }
  // Reading to the end of the WAL ends with an error at the first invalid record: expected then.
  if ((r.code !== 0 && wal.endLsn) || records === 0) {
    wal.waldumpError = r.stderr.trim().split('\n').filter((l) => !/hint:/.test(l)).slice(-1)[0];
    return;
  }
  wal.records = records;
  wal.fpi = fpi;
  if (!wal.endLsn && lastLsn) {
    wal.endLsn = lastLsn;
    wal.lsnBytes = lsnToNumber(lastLsn) - lsnToNumber(wal.startLsn);
  }
}

function describeFindings(res: CycleResult): string[] {
  const f: string[] = [];
  const o = res.checks.oracle;
  if (o) {
    if (o.lostCommits.length) f.push(`${o.lostCommits.length} acknowledged transfer(s) missing, e.g. id ${o.lostCommits.slice(0, 5).join(', ')}`);
    if (o.balanceSum !== o.expectedSum) f.push(`balances sum to ${o.balanceSum}, expected ${o.expectedSum}`);
    if (o.inconsistentAccounts) f.push(`${o.inconsistentAccounts} account(s) disagree with the transfers present`);
    for (const e of o.queryErrors) f.push(`query error: ${e}`);
  }
  if (res.checks.amcheck && res.checks.amcheck.code !== 0) f.push(`pg_amcheck exit ${res.checks.amcheck.code}`);
  if (res.checks.checksums && res.checks.checksums.code !== 0) f.push(`pg_checksums --check exit ${res.checks.checksums.code}`);
  if (res.checks.cleanShutdown === false) f.push('no clean shutdown after recovery');
  return f;
}
