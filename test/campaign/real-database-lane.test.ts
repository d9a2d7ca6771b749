/**
 * The one real-database lane (src/campaign/real-database-lane.ts) and the
 * registry it reaches engines through: sections expand in registry order,
 * cells run and count in that order, and a real-database shard part is
 * measured by its adapter, so shards of any engine merge to the whole.
 */
import { parseCampaign } from '../../src/campaign/campaign-file';
import { countByEngine, expandRealDatabaseCells, inRegistryOrder } from '../../src/campaign/real-database-lane';
import { getAdapter, realDatabaseOf } from '../../src/campaign/engines';
import { mergeParts, RealDatabasePart } from '../../src/campaign/shard-parts';
import { sqliteAdapter, SqliteCellConfig } from '../../engines/sqlite/adapter';
import { pgAdapter } from '../../engines/postgres/adapter';
import type { SqliteCycleSummary } from '../../engines/sqlite/report';
import { BadInputError } from '../../src/util/errors';

const FILE = 'profiles: [consumer-tlc]\nmodes: []\nsqlite: {cells: [{journalMode: WAL, synchronous: FULL}], crashes: 2}\nmariadb: {doublewrite: [on]}\npostgres: {fpw: [off, on]}\n';

test('sections expand in registry order, each in file order', () => {
  const cells = expandRealDatabaseCells(parseCampaign(FILE, 'x.yaml'), 'x.yaml');
  expect(cells.map((c) => c.adapter.describe(c.cfg))).toEqual(['postgres fpw=off on consumer-tlc', 'postgres fpw=on on consumer-tlc', 'mariadb doublewrite=on on consumer-tlc', 'sqlite WAL+FULL on consumer-tlc']);
});

test('cells added later (the --databases defaults) still run and count in registry order', () => {
  const sq = { adapter: sqliteAdapter, cfg: { cell: { journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 }, profile: 'consumer-tlc', faults: [], crashes: 1, seed: 1 } };
  const pg = { adapter: pgAdapter, cfg: expandRealDatabaseCells(parseCampaign(FILE, 'x.yaml'), 'x.yaml')[0].cfg };
  expect(inRegistryOrder([sq, pg, sq]).map((c) => c.adapter.kind)).toEqual(['pg', 'sqlite', 'sqlite']);
  expect(countByEngine([sq, pg, sq])).toBe(', 1 PostgreSQL, 2 SQLite');
});

test('a bad section is named by the engine that owns it', () => {
  expect(() => expandRealDatabaseCells(parseCampaign('profiles: [consumer-tlc]\nsqlite: {grid: true, cells: [{journalMode: WAL, synchronous: FULL}]}\n', 's.yaml'), 's.yaml')).toThrow(/s.yaml: sqlite.grid runs every cell/);
  expect(() => expandRealDatabaseCells(parseCampaign('profiles: [consumer-tlc]\npostgres: {fpw: [on, on]}\n', 'p.yaml'), 'p.yaml')).toThrow(/postgres.fpw lists "on" twice/);
});

test('shard parts of a real database are measured by its adapter: two shares merge to the whole', () => {
  const cfg: SqliteCellConfig = { cell: { journalMode: 'WAL', synchronous: 'NORMAL', pageSize: 4096 }, profile: 'consumer-tlc', faults: [], crashes: 3, seed: 7 };
  const cyc = (cycle: number, verdict: SqliteCycleSummary['verdict']): SqliteCycleSummary => ({ cycle, verdict, finding: false, tradeOff: verdict !== 'ok', replayId: sqliteAdapter.replayId(cfg, cycle), detail: '', ackedTxid: 10 + cycle, device: { hostWriteBytes: 4096 * (cycle + 1), nandBytesProgrammed: 4096, flushes: 2, fuaWrites: 0 }, loadMs: 100 });
  const all = [cyc(0, 'ok'), cyc(1, 'lost-commit'), cyc(2, 'ok')];
  const part = (cycles: SqliteCycleSummary[]): RealDatabasePart => ({ kind: 'sqlite', id: 'c', planned: 3, plannedPrint: '', owned: cycles.length, ownedPrint: '', config: cfg, cycles });
  const whole = mergeParts([part(all)]);
  expect(mergeParts([part([all[2], all[0]]), part([all[1]])])).toEqual(whole);
  expect(whole).toEqual(sqliteAdapter.measure(cfg, all));
  expect(whole.verdicts['lost-commit']).toBe(1);
  expect(whole.bytesByTag).toEqual({ other: 4096 * 6 });
});

test('an unknown part kind or engine name is bad input that says where to look', () => {
  expect(() => realDatabaseOf('oracle')).toThrow(BadInputError);
  expect(() => realDatabaseOf('oracle')).toThrow(/kinds: states, pg, mariadb, sqlite, exec/);
  expect(() => getAdapter('postgres')).toThrow(/tornlab pg, tornlab mariadb, tornlab sqlite, tornlab exec/);
});
