/**
 * Known answers of PostgreSQL in containers (issue 12), per major version:
 * full_page_writes=off is caught on consumer-tlc (a torn page after the cut
 * inside a CHECKPOINT), full_page_writes=on stays ok. One cycle each: the
 * targeted cut catches fpw=off in every cycle (ARCHITECTURE 6).
 *
 * A version runs when tornlab's dockerd runs and its image exists
 * (`tornlab containers setup --images pg15`); otherwise it is skipped with
 * one line saying why. Nothing of the run may be left: no container with
 * its label, no ledger entry.
 */
import { DEFAULT_CELL } from '../../engines/postgres/config';
import { runPgCell } from '../../engines/postgres/cycle';
import { runLedger } from '../../src/export';
import { labelledContainersOf, unavailable } from './available';

for (const version of ['15', '17', '18']) {
  const why = unavailable(`pg${version}` as 'pg15' | 'pg17' | 'pg18');
  const d = why ? describe.skip : describe;
  // eslint-disable-next-line no-console
  if (why) console.log(`PostgreSQL ${version} in a container: skipped: ${why}`);
  d(`PostgreSQL ${version} in a container`, () => {
    jest.setTimeout(420_000);
    const cell = { ...DEFAULT_CELL, crashes: 1, seed: 3, runtime: 'container' as const, pgVersion: version };

    test('full_page_writes=off is caught on consumer-tlc', async () => {
      const r = await runPgCell({ ...cell, fpw: false });
      const c = r.cycles[0];
      // eslint-disable-next-line no-console
      console.log(`pg${version} container fpw=off: ${c.verdict} in ${c.ms.total} ms (${c.replayId}) ${c.messages.find((m) => /WARNING|ERROR|PANIC/.test(m)) ?? c.findings[0] ?? ''}`);
      expect(c.replayId).toMatch(new RegExp(`^pg@container${version}:consumer-tlc:fpw=off:`));
      expect(['torn-page-detected', 'recovery-failed', 'silent-corruption']).toContain(c.verdict);
      expect(labelledContainersOf(runLedger().runId)).toEqual([]);
      expect(runLedger().resources.filter((x) => x.kind === 'container')).toEqual([]);
    });

    test('full_page_writes=on stays ok', async () => {
      const r = await runPgCell({ ...cell, fpw: true });
      const c = r.cycles[0];
      // eslint-disable-next-line no-console
      console.log(`pg${version} container fpw=on: ${c.verdict} in ${c.ms.total} ms, amcheck exit ${c.checks.amcheck?.code}, checksums exit ${c.checks.checksums?.code}`);
      expect(c.verdict).toBe('ok');
      // The checks really ran in the container: amcheck and pg_checksums answered.
      expect(c.checks.amcheck?.code).toBe(0);
      expect(c.checks.checksums?.code).toBe(0);
      expect(c.checks.oracle?.lostCommits).toEqual([]);
      expect(labelledContainersOf(runLedger().runId)).toEqual([]);
    });
  });
}
