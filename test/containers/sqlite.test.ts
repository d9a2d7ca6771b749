/**
 * Known answers of SQLite in containers (issue 12): journal_mode=OFF is
 * caught on consumer-tlc, WAL + synchronous=FULL stays ok. The load and
 * verify children run in a fresh container per phase; the checks are the
 * local ones (integrity_check, the bank oracle, row checksums). Skipped
 * with one line when no engine or image can be had.
 */
import { openDeviceStorage } from '../../engines/common/device-storage';
import { runSqliteCampaign } from '../../engines/sqlite/campaign';
import { SqliteCell } from '../../engines/sqlite/cell';
import { resolveSqliteRuntime } from '../../engines/sqlite/runtime';
import { runLedger } from '../../src/export';
import { settle } from '../../src/export/containers/containers';
import { labelledContainersOf, unavailable } from './available';

const why = unavailable('sqlite');
// eslint-disable-next-line no-console
if (why) console.log(`SQLite in a container: skipped: ${why}`);
const d = why ? describe.skip : describe;

async function campaign(cell: SqliteCell, crashes: number, seed: number) {
  await resolveSqliteRuntime('container');
  const r = await runSqliteCampaign({
    cell,
    crashes,
    seed,
    cycle: { armedCutWaitMs: 500, runtime: 'container' },
    openStorage: (i) => openDeviceStorage({ profile: 'consumer-tlc', seed: seed + i, sample: i }),
  });
  await settle();
  return r;
}

d('SQLite in a container', () => {
  jest.setTimeout(300_000);

  test('journal_mode=OFF on consumer-tlc is caught', async () => {
    const r = await campaign({ journalMode: 'OFF', synchronous: 'FULL', pageSize: 4096 }, 4, 1);
    // eslint-disable-next-line no-console
    console.log(`sqlite container journal=OFF: ${r.cycles.map((c) => c.verdict).join(', ')}; ${r.cyclesPerMinute.toFixed(1)} cycles/min`);
    expect(r.findings).toBeGreaterThan(0);
    expect(labelledContainersOf(runLedger().runId)).toEqual([]);
  });

  test('WAL + synchronous=FULL: every cycle ok', async () => {
    const r = await campaign({ journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 }, 4, 2);
    // eslint-disable-next-line no-console
    console.log(`sqlite container WAL+FULL: ${r.cycles.map((c) => c.verdict).join(', ')}; ${r.cyclesPerMinute.toFixed(1)} cycles/min`);
    expect(r.cycles.map((c) => c.verdict)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(labelledContainersOf(runLedger().runId)).toEqual([]);
    expect(runLedger().resources.filter((x) => x.kind === 'container')).toEqual([]);
  });
});
