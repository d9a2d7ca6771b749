/**
 * Real-MariaDB benchmark (issue 13, point 6). Not a test: prints figures.
 *   npm run build && node dist/bench/mariadb-cycle.js [cycles]
 * Crash-cycle time, median over `cycles` cycles of each doublewrite setting
 * (consumer-tlc, 16 KiB pages, O_DIRECT, cut in the page cleaner's flush):
 * restore the base image (no mariadb-install-db per cycle), start, load, cut,
 * recover, verify (oracle, CHECK TABLE EXTENDED, innochecksum). Target: <= 3 s
 * median. The one-time base-image build is reported apart, and the phases'
 * medians show where the time goes.
 * Needs root, /dev/fuse, loop devices, libfuse2, mkfs.ext4, mariadb-server.
 */
import { DEFAULT_CELL, runMariadbCell } from '../engines/mariadb/cycle';
import { median } from '../src/util/percentile';
import { missingForMariadb } from '../engines/mariadb/runtime';
import { requireExport } from '../src/export';

async function main(): Promise<void> {
  const cycles = Number(process.argv[2] ?? 10);
  requireExport('ext4', missingForMariadb());
  for (const doublewrite of [false, true]) {
    const cell = await runMariadbCell({ ...DEFAULT_CELL, doublewrite, crashes: cycles, seed: 1 });
    const times = cell.cycles.map((c) => c.ms.total);
    const med = median(times);
    console.log(`doublewrite=${doublewrite ? 'on ' : 'off'}: median cycle ${(med / 1000).toFixed(2)} s over ${cycles} cycles (${(60000 / med).toFixed(1)} cycles/min; target <= 3 s: ${med <= 3000 ? 'met' : 'missed'}); base image ${(cell.base.buildMs / 1000).toFixed(1)} s once; verdicts ${JSON.stringify(cell.verdicts)}`);
    const phases = ['start', 'load', 'cut', 'recovery', 'verify'] as const;
    console.log(`  median phases (s): ${phases.map((p) => `${p} ${(median(cell.cycles.map((c) => c.ms[p])) / 1000).toFixed(2)}`).join(', ')}`);
    // A cycle that is not ok is a finding or a harness error: name it so it can be rerun (tornlab replay ID).
    for (const c of cell.cycles.filter((x) => x.verdict !== 'ok')) console.log(`  cycle ${c.cycle}: ${c.verdict} ${c.findings[0] ?? ''}  (tornlab replay ${c.replayId})`);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
