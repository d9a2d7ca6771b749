/**
 * Known answers of real MariaDB 10.11 (InnoDB, 16 KiB pages, O_DIRECT) on the
 * emulated consumer-tlc device, cut inside the page cleaner's flush
 * (issue 13): innodb_doublewrite=0 is caught — InnoDB refuses to start over
 * the torn page, or a check finds it — and innodb_doublewrite=1 recovers
 * clean in every cycle (oracle, CHECK TABLE EXTENDED, innochecksum). Both
 * leave no mount, loop device or process.
 *
 * Needs root, /dev/fuse, a free loop device, libfuse2, mkfs.ext4 and Debian's
 * mariadb-server; without them the tests are skipped with a line naming what
 * is missing.
 */
import { DEFAULT_CELL, MariadbCellConfig, runMariadbCell } from '../../engines/mariadb/cycle';
import { missingForMariadb } from '../../engines/mariadb/runtime';
import { missingForExport, runLedger } from '../../src/export';
import { currentMounts, loopDevices } from '../../src/export/doctor';
import { markedProcesses } from '../../src/export/processes';

const missing = [...missingForExport('ext4'), ...missingForMariadb()];
const describeMariadb = missing.length === 0 ? describe : describe.skip;
if (missing.length > 0) {
  // eslint-disable-next-line no-console
  console.log(`SKIP test/mariadb (real MariaDB): missing ${missing.map((m) => m.what).join(', ')}`);
}

function leftovers(): string[] {
  const l = runLedger();
  const out: string[] = [];
  for (const m of currentMounts()) if (m.mountPoint.startsWith(l.dir + '/')) out.push(`mount ${m.mountPoint}`);
  for (const lo of loopDevices()) if (lo.backingFile.startsWith(l.dir + '/')) out.push(`loop ${lo.dev}`);
  for (const p of markedProcesses(l.runId)) out.push(`process ${p.pid}`);
  for (const r of l.resources) if (r.kind !== 'dir') out.push(`ledger ${r.kind} ${r.id}`);
  return out;
}

const cell = (doublewrite: boolean, crashes: number, seed: number, extra: Partial<MariadbCellConfig> = {}): MariadbCellConfig => ({ ...DEFAULT_CELL, doublewrite, crashes, seed, ...extra });

describeMariadb('MariaDB on consumer-tlc, cut during the page cleaner flush', () => {
  jest.setTimeout(400_000);

  test('innodb_doublewrite=0 is caught in at least 2 of 3 cycles, with InnoDB\'s own words', async () => {
    const r = await runMariadbCell(cell(false, 3, 1));
    const caught = r.cycles.filter((c) => ['torn-page-detected', 'recovery-failed', 'silent-corruption'].includes(c.verdict));
    expect(caught.length).toBeGreaterThanOrEqual(2);
    expect(caught[0].messages.join('\n')).toMatch(/corrupt|checksum/i);
    // A refused start over a corrupt page is torn-page-detected and flagged as an outage.
    for (const c of r.cycles) expect(c.outage).toBe(c.verdict === 'torn-page-detected' && !c.recovery.ready);
    for (const c of r.cycles) expect(c.cut.trigger).toBe('flush');
    expect(leftovers()).toEqual([]);
  });

  test('innodb_doublewrite=1 recovers clean in every cycle', async () => {
    const r = await runMariadbCell(cell(true, 3, 1));
    for (const c of r.cycles) {
      expect({ cycle: c.cycle, verdict: c.verdict, findings: c.findings }).toEqual({ cycle: c.cycle, verdict: 'ok', findings: [] });
      expect(c.recovery.ready).toBe(true);
      expect(c.checks.oracle?.lostCommits).toEqual([]);
      expect(c.checks.checkTable?.problems).toEqual([]);
      expect(c.checks.innochecksum?.bad).toEqual([]);
      expect(c.checks.innochecksum?.files).toBeGreaterThan(3);
      expect(c.workload.acked).toBeGreaterThan(0);
      expect(c.cut.trigger).toBe('flush');
    }
    expect(r.finding).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
