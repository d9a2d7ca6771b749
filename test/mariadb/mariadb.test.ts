/**
 * Known answers of real MariaDB 10.11 (InnoDB, 16 KiB pages, O_DIRECT) on the
 * emulated consumer-tlc device, cut inside the page cleaner's flush
 * (issue 13): innodb_doublewrite=0 is caught — InnoDB refuses to start over
 * the torn page, or a check finds it — and innodb_doublewrite=1 recovers
 * clean in every cycle (oracle, CHECK TABLE EXTENDED, innochecksum), on every
 * profile. On atomic-16k (16 KiB power-fail atomic inside 16 KiB boundaries)
 * with ext4's default allocation, doublewrite=0 is still caught, and the
 * write shape names the cause: the torn pages are the first pages of small
 * tablespaces, placed off a 16 KiB boundary, whose one 16 KiB write crossed
 * it. With a 16 KiB-aligned allocation (ext4 bigalloc, 16 KiB clusters) no
 * page is off the boundary, every flushed page is protected and every cycle
 * is ok. A torn page 0 of ibdata1 is restored from the doublewrite buffer;
 * a torn page 0 of a .ibd is not (a finding in InnoDB, kept as a known
 * answer). Every run leaves no mount, loop device or process.
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

describeMariadb('innodb_doublewrite=1 restores a page torn on purpose', () => {
  jest.setTimeout(600_000);
  test('consumer-tlc, cut at a page write and that write torn in the crash state: every cycle ok', async () => {
    const r = await runMariadbCell(cell(true, 3, 3, { crashAt: 'unprotected' }));
    for (const c of r.cycles) {
      expect({ cycle: c.cycle, verdict: c.verdict, findings: c.findings }).toEqual({ cycle: c.cycle, verdict: 'ok', findings: [] });
      expect(c.cut.trigger).toBe('unprotected');
      expect(c.cut.tornOnPurpose).toBe(true);
      expect(c.cut.changedBlocks).toBeGreaterThan(0);
    }
    expect(leftovers()).toEqual([]);
  });
});

describeMariadb('innodb_doublewrite=1 and a torn page 0 (docs/mariadb-page0-doublewrite.md)', () => {
  jest.setTimeout(600_000);
  test('ibdata1: InnoDB notices the torn page 0 and restores it from the doublewrite buffer; every cycle ok', async () => {
    const r = await runMariadbCell(cell(true, 2, 1, { crashAt: 'ibdata1-first-page' }));
    for (const c of r.cycles) {
      expect({ cycle: c.cycle, verdict: c.verdict, findings: c.findings }).toEqual({ cycle: c.cycle, verdict: 'ok', findings: [] });
      expect(c.cut.trigger).toBe('ibdata1-first-page');
      expect(c.cut.tornOnPurpose).toBe(true);
      expect(c.messages.join('\n')).toMatch(/Checksum mismatch in datafile: \.\/ibdata1/);
      expect(c.messages.join('\n')).toMatch(/restored \d+ page\(s\) from the doublewrite buffer \(ibdata1 page 0/);
    }
    expect(leftovers()).toEqual([]);
  });

  // A finding in InnoDB, kept as a known answer: a valid doublewrite copy of the page exists, yet
  // recovery opens the tablespace without it (MariaDB 10.11.19 and 11.8.9). Should MariaDB fix it,
  // this test fails, and the known answer becomes "ok".
  test('a .ibd: InnoDB does not restore page 0 from its doublewrite copy; every cycle caught, the table unusable', async () => {
    const r = await runMariadbCell(cell(true, 2, 1, { crashAt: 'ibd-first-page' }));
    for (const c of r.cycles) {
      expect({ cycle: c.cycle, verdict: c.verdict }).toEqual({ cycle: c.cycle, verdict: 'torn-page-detected' });
      expect(c.cut.trigger).toBe('ibd-first-page');
      expect(c.recovery.ready).toBe(true);
      expect(c.messages.join('\n')).toMatch(/The first page of file \.\/tornlab\/\w+\.ibd is corrupted/);
      expect(c.findings.join('\n')).toMatch(/Table `tornlab`\.`\w+` is corrupted/);
      expect(c.findings[0]).toMatch(/^page 0 of tornlab\/\w+\.ibd is torn and InnoDB did not restore it from the doublewrite buffer/);
    }
    expect(r.finding).toBe(true);
    expect(leftovers()).toEqual([]);
  });
});

describeMariadb('innodb_doublewrite=1 on every other profile', () => {
  jest.setTimeout(600_000);
  test.each(['enterprise-plp', 'atomic-16k', 'azure-atomic-16k', 'qemu-default'])('%s: one cycle, ok', async (profile) => {
    const r = await runMariadbCell(cell(true, 1, 2, { profile }));
    expect(r.cycles.map((c) => ({ verdict: c.verdict, findings: c.findings }))).toEqual([{ verdict: 'ok', findings: [] }]);
    expect(leftovers()).toEqual([]);
  });
});

describeMariadb('innodb_doublewrite=0 on atomic-16k: the allocation decides', () => {
  jest.setTimeout(600_000);

  // Cut at the first page write of a tablespace the device does not cover (--crash-at unprotected), and
  // tear that write in the crash state (a legal outcome of it). With the seeded cache-fill cut
  // (--crash-at flush) it is caught in about 4 of 10 cycles; aimed at any unprotected write and left to a
  // coin per block, in 2-3 of 8 (and 0 of 8 once under load: redo log writes were struck, and pages that
  // landed whole).
  test('default ext4: caught, and every torn page is a misaligned page whose write crossed the 16 KiB boundary', async () => {
    const r = await runMariadbCell(cell(false, 8, 1, { profile: 'atomic-16k', crashAt: 'unprotected' }));
    const layout = r.cycles[0].writeShape!.layout!;
    expect(layout.misaligned).toBeGreaterThan(0);
    expect(r.cycles[0].writeShape!.flush!.atomicity).toEqual({ unitBytes: 16384, controllerUnitBytes: 4096, boundaryBytes: 16384, boundaryOffsetBytes: 0 });
    const struck = r.cycles.filter((c) => c.cut.trigger === 'unprotected');
    for (const c of struck) expect(c.cut.tornOnPurpose).toBe(true);
    const caught = r.cycles.filter((c) => c.verdict === 'torn-page-detected');
    // Measured 8 of 8 (2026-12-04); InnoDB may still rebuild a torn page from its redo log's page records.
    expect(caught.length).toBeGreaterThanOrEqual(4);
    for (const c of caught) {
      const torn = c.writeShape!.tornPages;
      expect(torn.length).toBeGreaterThan(0);
      for (const t of torn) expect({ page: `${t.file}#${t.page}`, write: t.write, misaligned: t.misaligned }).toEqual({ page: `${t.file}#${t.page}`, write: 'crosses-boundary', misaligned: true });
    }
    // The misaligned pages are the first ones of a tablespace (ext4 places a new file's first blocks anywhere).
    for (const f of Object.values(layout.byFile)) for (const p of f.misalignedPages) expect(p).toBeLessThan(8);
    expect(leftovers()).toEqual([]);
  });

  test('ext4 bigalloc with 16 KiB clusters: no page off the boundary, every flushed page protected, every cycle ok', async () => {
    const r = await runMariadbCell(cell(false, 3, 1, { profile: 'atomic-16k', mkfsOptions: ['-O', 'bigalloc', '-C', '16384'] }));
    for (const c of r.cycles) {
      expect({ verdict: c.verdict, findings: c.findings }).toEqual({ verdict: 'ok', findings: [] });
      const ws = c.writeShape!;
      expect(ws.layout!.misaligned).toBe(0);
      expect(ws.layout!.pages).toBeGreaterThan(1000);
      expect(ws.flush!.pageWrites).toBeGreaterThan(0);
      expect(ws.flush!.protected).toBe(ws.flush!.pageWrites);
    }
    expect(leftovers()).toEqual([]);
  });
});
