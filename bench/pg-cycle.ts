/**
 * Real-PostgreSQL benchmark (issue 5). Not a test: prints figures.
 *   npm run build && node dist/bench/pg-cycle.js [cycles] [pgbench-seconds]
 * 1. Crash-cycle time: median over `cycles` cycles (full_page_writes=on,
 *    consumer-tlc, cut during a CHECKPOINT): restore the base image, start,
 *    load, cut, recover, verify (oracle, pg_amcheck, pg_checksums). Target:
 *    <= 10 s median. The one-time base-image build is reported apart.
 * 2. pgbench throughput (TPC-B-like, 4 clients, scale 1) on the emulated
 *    device versus the same stack (ext4 on a loop device) over a plain file on
 *    local disk, in the same run. Target: ratio >= 0.5.
 * Needs root, /dev/fuse, loop devices, libfuse2, mkfs.ext4, PostgreSQL 15.
 */
import * as path from 'node:path';
import { DEFAULT_CELL } from '../engines/postgres/config';
import { median } from '../src/util/percentile';
import { runPgCell } from '../engines/postgres/cycle';
import { missingForPostgres } from '../engines/postgres/runtime';
import { PgServer } from '../engines/postgres/server';
import { BlockStack, HostedDevice, requireExport, runLedger } from '../src/export';

async function pgbenchTps(stack: BlockStack, seconds: number, label: string): Promise<number> {
  const ledger = runLedger();
  const sock = ledger.newPath('sock');
  ledger.add('dir', sock);
  const server = new PgServer({
    dataDir: path.join(stack.mountPoint!, 'pgdata'),
    socketDir: sock,
    port: 30000 + (process.pid % 10000),
    logFile: sock + '.log',
    settings: { shared_buffers: '16MB', checkpoint_timeout: '30s', max_wal_size: '1GB', autovacuum: 'off' },
    ledger,
  });
  try {
    await server.initdb();
    const st = await server.start();
    if (!st.ready) throw new Error(`${label}: postgres did not start: ${server.logSinceStart()}`);
    const conn = ['-h', sock, '-p', String(server.opts.port), '-U', 'postgres'];
    const init = await server.runTool('pgbench', ['-i', '-q', '-s', '1', ...conn, 'postgres']);
    if (init.code !== 0) throw new Error(`${label}: pgbench -i: ${init.stderr}`);
    const r = await server.runTool('pgbench', ['-n', '-c', '4', '-j', '2', '-T', String(seconds), ...conn, 'postgres']);
    const m = /tps = ([\d.]+) \((without|excluding)/.exec(r.stdout);
    if (!m) throw new Error(`${label}: no tps in pgbench output: ${r.stdout}${r.stderr}`);
    await server.stop();
    return Number(m[1]);
  } finally {
    server.kill();
  }
}

async function main(): Promise<void> {
  const cycles = Number(process.argv[2] ?? 7);
  const seconds = Number(process.argv[3] ?? 15);
  requireExport('ext4', missingForPostgres());

  const t0 = Date.now();
  const cell = await runPgCell({ ...DEFAULT_CELL, fpw: true, crashes: cycles, seed: 1 });
  const times = cell.cycles.map((c) => c.ms.total);
  const med = median(times);
  console.log(`crash cycle (fpw=on, consumer-tlc, cut in CHECKPOINT, load ${DEFAULT_CELL.loadMs} ms): median ${(med / 1000).toFixed(2)} s over ${cycles} cycles = ${(60000 / med).toFixed(1)} cycles/min`);
  console.log(`  cycle times (s): ${times.map((t) => (t / 1000).toFixed(2)).join(' ')}; verdicts: ${JSON.stringify(cell.verdicts)}`);
  const phases = ['start', 'load', 'cut', 'recovery', 'verify'] as const;
  console.log(`  median phases (s): ${phases.map((p) => `${p} ${(median(cell.cycles.map((c) => c.ms[p])) / 1000).toFixed(2)}`).join(', ')}`);
  console.log(`  base image (initdb + load, once per configuration): ${(cell.base.buildMs / 1000).toFixed(1)} s, ${cell.base.blocks} blocks; whole run ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const dev = await HostedDevice.create({ profile: 'consumer-tlc', seed: 1, nsze: 262144 });
  const emu = await BlockStack.mountDevice(dev, { format: true });
  let tpsEmu: number;
  try {
    tpsEmu = await pgbenchTps(emu, seconds, 'emulated');
  } finally {
    await emu.release();
  }
  const plain = await BlockStack.mountPlainFile(1024 ** 3, { format: true });
  let tpsPlain: number;
  try {
    tpsPlain = await pgbenchTps(plain, seconds, 'plain file');
  } finally {
    await plain.release();
  }
  console.log(`pgbench -c 4 -T ${seconds} (scale 1): emulated consumer-tlc ${tpsEmu.toFixed(0)} tps, plain file on local disk ${tpsPlain.toFixed(0)} tps, ratio ${(tpsEmu / tpsPlain).toFixed(2)}`);
  const c = await dev.counters();
  console.log(`  emulated device: ${c.writes} writes, ${c.flushes} flushes, ${(c.hostWriteBytes / 1024 / 1024).toFixed(0)} MiB written`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
