/**
 * Known answers of MariaDB in containers (issues 12 and 13), per version
 * (10.11 from bookworm, 11.8 from trixie): innodb_doublewrite=0 is caught on
 * consumer-tlc (InnoDB refuses the torn page, or a check finds it) in at
 * least one of two cycles (locally it is 19 of 20: one cycle alone would
 * miss one run in twenty), and innodb_doublewrite=1 stays ok, its checks
 * run by the container's own innochecksum and CHECK TABLE. With
 * innodb_doublewrite=1 a torn page 0 of a .ibd is not restored, in both
 * versions (docs/mariadb-page0-doublewrite.md): a finding in InnoDB, kept as
 * a known answer.
 *
 * A version runs when tornlab's dockerd runs and its image exists
 * (`tornlab containers setup --images mariadb10.11,mariadb11.8`); otherwise
 * it is skipped with one line saying why. Nothing of the run may be left: no
 * container with its label, no ledger entry.
 */
import { DEFAULT_CELL, runMariadbCell } from '../../engines/mariadb/cycle';
import { runLedger } from '../../src/export';
import { labelledContainersOf, unavailable } from './available';

for (const version of ['10.11', '11.8']) {
  const why = unavailable(`mariadb${version}` as 'mariadb10.11' | 'mariadb11.8');
  const d = why ? describe.skip : describe;
  // eslint-disable-next-line no-console
  if (why) console.log(`MariaDB ${version} in a container: skipped: ${why}`);
  d(`MariaDB ${version} in a container`, () => {
    jest.setTimeout(480_000);
    const cell = { ...DEFAULT_CELL, seed: 1, runtime: 'container' as const, mariadbVersion: version };

    test('innodb_doublewrite=0 is caught on consumer-tlc', async () => {
      const r = await runMariadbCell({ ...cell, doublewrite: false, crashes: 2 });
      for (const c of r.cycles) {
        // eslint-disable-next-line no-console
        console.log(`mariadb${version} container dblwr=off: ${c.verdict}${c.outage ? ' (outage)' : ''} in ${c.ms.total} ms (${c.replayId}) ${c.messages.find((m) => /\[ERROR\]/.test(m)) ?? c.findings[0] ?? ''}`);
        expect(c.replayId).toMatch(new RegExp(`^mariadb@container${version.replace('.', '\\.')}:consumer-tlc:dblwr=off:`));
        expect(c.verdict).not.toBe('harness-error');
      }
      expect(r.cycles.filter((c) => ['torn-page-detected', 'recovery-failed', 'silent-corruption'].includes(c.verdict)).length).toBeGreaterThanOrEqual(1);
      expect(labelledContainersOf(runLedger().runId)).toEqual([]);
      expect(runLedger().resources.filter((x) => x.kind === 'container')).toEqual([]);
    });

    test('innodb_doublewrite=1 stays ok', async () => {
      const r = await runMariadbCell({ ...cell, doublewrite: true, crashes: 1 });
      const c = r.cycles[0];
      // eslint-disable-next-line no-console
      console.log(`mariadb${version} container dblwr=on: ${c.verdict} in ${c.ms.total} ms, innochecksum ${c.checks.innochecksum?.files} files, ${c.checks.innochecksum?.doublewriteSkipped} doublewrite-area pages skipped`);
      expect(c.verdict).toBe('ok');
      // The checks really ran: recovery, the oracle, CHECK TABLE, a clean shutdown and innochecksum over every file.
      expect(c.recovery.ready).toBe(true);
      expect(c.checks.oracle?.lostCommits).toEqual([]);
      expect(c.workload.acked).toBeGreaterThan(0);
      expect(c.checks.checkTable).toMatchObject({ problems: [], errors: [] });
      expect(c.checks.cleanShutdown).toBe(true);
      expect(c.checks.innochecksum?.files).toBeGreaterThanOrEqual(5);
      expect(c.checks.innochecksum?.unreadable).toEqual([]);
      expect(labelledContainersOf(runLedger().runId)).toEqual([]);
    });

    test('innodb_doublewrite=1 and a torn .ibd page 0: not restored, the table unusable (a finding in InnoDB)', async () => {
      const r = await runMariadbCell({ ...cell, doublewrite: true, crashes: 1, crashAt: 'ibd-first-page' });
      const c = r.cycles[0];
      expect(c.cut.trigger).toBe('ibd-first-page');
      expect(c.verdict).toBe('torn-page-detected');
      expect(c.recovery.ready).toBe(true);
      expect(c.messages.join('\n')).toMatch(/The first page of file \.\/tornlab\/\w+\.ibd is corrupted/);
      expect(labelledContainersOf(runLedger().runId)).toEqual([]);
    });
  });
}
