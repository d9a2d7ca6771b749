/**
 * Real SQLite on the emulated device (FUSE -> loop -> ext4), power cut at a
 * targeted point inside the write stream. Known answers:
 * - journal_mode=OFF and synchronous=OFF on consumer-tlc are caught;
 * - WAL + FULL, TRUNCATE + FULL, DELETE + EXTRA stay ok;
 * - DELETE + FULL never has a finding: at most the last commit rolls back,
 *   which SQLite documents (the journal unlink is not synced without EXTRA);
 * - WAL + NORMAL loses commits, marked as the documented trade-off.
 * Skips (with a line naming what is missing) without root, /dev/fuse, loop.
 */
import * as fs from 'fs';
import { missingForExport, runLedger } from '../../src/export';
import { openDeviceStorage } from '../../engines/common/device-storage';
import { SqliteCampaignResult, runSqliteCampaign } from '../../engines/sqlite/campaign';
import { SqliteCell } from '../../engines/sqlite/cell';

const missing = missingForExport('ext4');
const describeDevice = missing.length === 0 ? describe : describe.skip;
if (missing.length) process.stdout.write(`skipping SQLite device tests: missing ${missing.map((m) => m.what).join(', ')}\n`);

function campaign(cell: SqliteCell, crashes: number, seed = 5, profile = 'consumer-tlc'): Promise<SqliteCampaignResult> {
  return runSqliteCampaign({
    cell,
    crashes,
    seed,
    cycle: { armedCutWaitMs: 500 },
    openStorage: (i) => openDeviceStorage({ profile, seed: seed + i, sample: i }),
  });
}

const show = (r: SqliteCampaignResult) => r.cycles.map((c) => `${c.verdict}${c.tradeOff ? '(trade-off)' : ''}: ${c.messages[0] ?? ''}`);

describeDevice('SQLite on the emulated device', () => {
  test('journal_mode=OFF on consumer-tlc (16 KiB pages) is caught', async () => {
    const r = await campaign({ journalMode: 'OFF', synchronous: 'FULL', pageSize: 16384 }, 10);
    expect(r.storage).toBe('emulated-device');
    expect(r.findings).toBeGreaterThan(0);
    const caught = r.cycles.filter((c) => c.finding).map((c) => c.verdict);
    expect(caught.every((v) => ['torn-page-detected', 'silent-corruption', 'atomicity-violation', 'lost-commit'].includes(v))).toBe(true);
  });

  test('synchronous=OFF on consumer-tlc is caught', async () => {
    const r = await campaign({ journalMode: 'DELETE', synchronous: 'OFF', pageSize: 4096 }, 3);
    expect(r.findings).toBeGreaterThan(0);
  });

  test.each<SqliteCell>([
    { journalMode: 'WAL', synchronous: 'FULL', pageSize: 8192 },
    { journalMode: 'TRUNCATE', synchronous: 'FULL', pageSize: 16384 },
    { journalMode: 'DELETE', synchronous: 'EXTRA', pageSize: 4096 },
  ])('$journalMode + synchronous=$synchronous, $pageSize B pages: every cycle ok', async (cell) => {
    const r = await campaign(cell, 8);
    expect(show(r)).toEqual(r.cycles.map(() => 'ok: '));
  });

  test('DELETE + FULL: no finding; a lost commit is only ever the last one (documented: EXTRA syncs the directory)', async () => {
    const r = await campaign({ journalMode: 'DELETE', synchronous: 'FULL', pageSize: 8192 }, 10);
    expect(r.findings).toBe(0);
    for (const c of r.cycles.filter((c) => c.verdict !== 'ok')) {
      expect(c.verdict).toBe('lost-commit');
      expect(c.recoveredTxid).toBe(c.ackedTxid - 1);
      expect(c.tradeOff).toMatch(/EXTRA/);
    }
  });

  test('WAL + synchronous=NORMAL: commits are lost as documented, the database stays consistent', async () => {
    const r = await campaign({ journalMode: 'WAL', synchronous: 'NORMAL', pageSize: 4096 }, 4);
    expect(r.findings).toBe(0);
    expect(r.tradeOffs).toBeGreaterThan(0);
    for (const c of r.cycles) expect(['ok', 'lost-commit']).toContain(c.verdict);
  });

  test('every mount and loop device of the run is released after the campaigns', () => {
    const held = runLedger().resources.filter((r) => r.kind !== 'dir');
    expect(held).toEqual([]);
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts.includes(runLedger().dir + '/')).toBe(false);
    runLedger().close();
  });
});
