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
import { execFileSync } from 'node:child_process';
import { DEFAULT_CELL, runPgCell } from '../../engines/postgres/cycle';
import { missingForExport, runLedger } from '../../src/export';
import { DOCKER_SOCKET, RUN_LABEL, ourDaemonPid } from '../../src/export/containers/dockerd';
import { imageTag, pgImage } from '../../src/export/containers/images';

/** Why a version cannot run here (synchronous: jest decides before the tests run), or undefined. */
function unavailable(version: string): string | undefined {
  const m = missingForExport('ext4');
  if (m.length) return `no block export here (${m.map((x) => x.what).join(', ')})`;
  if (ourDaemonPid() === undefined) return 'tornlab\'s dockerd is not running (tornlab containers setup starts it)';
  const tag = imageTag(pgImage(version));
  try {
    execFileSync('docker', ['-H', `unix://${DOCKER_SOCKET}`, 'image', 'inspect', tag], { stdio: 'ignore', timeout: 60_000 });
  } catch {
    return `image ${tag} is missing (tornlab containers setup --images pg${version})`;
  }
  return undefined;
}

function labelledContainersOf(runId: string): string[] {
  const out = execFileSync('docker', ['-H', `unix://${DOCKER_SOCKET}`, 'ps', '-aq', '--filter', `label=${RUN_LABEL}=${runId}`], { encoding: 'utf8', timeout: 60_000 });
  return out.split('\n').filter(Boolean);
}

for (const version of ['15', '17', '18']) {
  const why = unavailable(version);
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
