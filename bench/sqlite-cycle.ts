/**
 * Real-SQLite benchmark (issue 6). Not a test: prints figures.
 *   npm run build && node dist/bench/sqlite-cycle.js [cycles-per-cell]
 * Crash cycles per minute of `tornlab sqlite` on consumer-tlc (fresh device,
 * mkfs.ext4, load child, targeted cut, remount of the crash image with
 * e2fsck -p, verify child, oracle) for a few cells, with the median phase
 * times. Target: >= 30 cycles per minute.
 * Needs root, /dev/fuse, loop devices, libfuse2, mkfs.ext4.
 */
import { openDeviceStorage } from '../engines/common/device-storage';
import { runSqliteCampaign } from '../engines/sqlite/campaign';
import { SqliteCell, cellName } from '../engines/sqlite/cell';
import { requireExport, runLedger } from '../src/export';
import { median } from '../src/util/percentile';


const CELLS: SqliteCell[] = [
  { journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 },
  { journalMode: 'DELETE', synchronous: 'FULL', pageSize: 8192 },
  { journalMode: 'OFF', synchronous: 'FULL', pageSize: 16384 },
];

async function main(): Promise<void> {
  requireExport('ext4');
  const cycles = Number(process.argv[2] ?? 10);
  let total = 0;
  let totalMs = 0;
  for (const cell of CELLS) {
    const r = await runSqliteCampaign({ cell, crashes: cycles, seed: 1, openStorage: (i) => openDeviceStorage({ profile: 'consumer-tlc', seed: 1 + i, sample: i }) });
    total += r.crashes;
    totalMs += r.elapsedMs;
    const phase = (k: 'load' | 'cutAndRemount' | 'verify') => median(r.cycles.map((c) => c.ms[k]));
    const verdicts = Object.entries(r.counts).filter(([, n]) => n).map(([v, n]) => `${v} ${n}`).join(', ');
    console.log(`${cellName(cell)}: ${r.cyclesPerMinute.toFixed(1)} cycles/min over ${cycles} cycles; median ms: setup+load ${phase('load')}, cut+remount ${phase('cutAndRemount')}, verify ${phase('verify')}; ${verdicts}`);
  }
  console.log(`all cells: ${((total * 60000) / totalMs).toFixed(1)} crash cycles/min (target >= 30)`);
  runLedger().close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
