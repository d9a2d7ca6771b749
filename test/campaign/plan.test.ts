import { formatReplayId, parseReplayId } from '../../src/crash/replay-id';
import { planChoices, planPoints, targetedPoints, TraceEvent } from '../../src/crash/strategies';
import { expandCampaign, parseCampaign, deviceCoversPage } from '../../src/campaign/campaign-file';
import { sectionCells } from './sections';
import { Prng } from '../../src/util/prng';
import { BadInputError } from '../../src/util/errors';

describe('replay ids', () => {
  test('round trip, with faults, force and a recovery cut', () => {
    const ids = [
      'tl1.minipage.none.consumer-tlc.8192.bank.300.42.p1834.s3',
      'tl1.minipage.atomic!.consumer-tlc+lying-flush+sub-block-tear:8.8192.kv-zipf.300.7.p12.e1z',
      'tl1.minipage.fpw.atomic-16k.16384.insert-seq.50.0.p9.s0.r33.s0',
    ];
    for (const id of ids) expect(formatReplayId(parseReplayId(id))).toBe(id);
    const s = parseReplayId(ids[1]);
    expect(s).toMatchObject({ mode: 'atomic', force: true, faults: ['lying-flush', 'sub-block-tear:8'], choice: { kind: 'enum', index: 71n } });
  });

  test.each(['', 'tl2.minipage.none.consumer-tlc.8192.bank.300.42.p1.s0', 'tl1.minipage.none', 'tl1.minipage.none.consumer-tlc.8k.bank.300.42.p1.s0', 'tl1.minipage.none.consumer-tlc.8192.bank.300.42.p1.x9'])('bad id "%s" is bad input', (id) => {
    expect(() => parseReplayId(id)).toThrow(BadInputError);
  });
});

describe('crash-point strategies', () => {
  const trace: TraceEvent[] = [];
  let seq = 0;
  const ev = (phase: 'submit' | 'complete', kind: TraceEvent['kind'], tag?: TraceEvent['tag']) => trace.push({ seq: ++seq, phase, kind, tag });
  ev('submit', 'write', 'wal'); ev('complete', 'write', 'wal'); ev('submit', 'flush'); ev('complete', 'flush');
  ev('submit', 'write', 'doublewrite'); ev('complete', 'write', 'doublewrite'); ev('submit', 'flush'); ev('complete', 'flush');
  ev('submit', 'write', 'page'); ev('complete', 'write', 'page'); ev('submit', 'flush'); ev('complete', 'flush');

  test('targeted points come from the tags: checkpoint, after the doublewrite flush, WAL flush', () => {
    const t = targetedPoints(trace);
    expect(t['in-checkpoint']).toEqual([5, 6, 9, 10]);
    expect(t['after-doublewrite-flush']).toEqual([8, 9, 10]);
    expect(t['at-wal-flush']).toEqual([2, 3, 4]);
  });

  test('plans are deterministic in the seed and respect the budget', () => {
    const a = planPoints('mixed', trace, 10, new Prng(5, 'p'));
    expect(a).toHaveLength(10);
    expect(planPoints('mixed', trace, 10, new Prng(5, 'p'))).toEqual(a);
    expect(planPoints('mixed', trace, 10, new Prng(6, 'p'))).not.toEqual(a);
    expect(planPoints('exhaustive', trace, 3, new Prng(5, 'p'))).toHaveLength(12);
  });

  test('exhaustive enumerates small spaces, samples large ones, and is cut at the budget', () => {
    const { states, truncated } = planChoices('exhaustive', [1, 2], (p) => (p === 1 ? 3n : 1000n), 100);
    expect(states.map((s) => `${s.point}:${s.choice.kind}`)).toEqual(['1:enum', '1:enum', '1:enum', '2:sample', '2:sample', '2:sample', '2:sample']);
    expect(truncated).toBe(false);
    expect(planChoices('exhaustive', [1, 2], () => 8n, 10)).toMatchObject({ truncated: true });
  });
});

describe('campaign files', () => {
  test('unknown keys and bad values are errors that name the key', () => {
    expect(() => parseCampaign('modes: [none]\nprofiles: [consumer-tlc]\npageSizes: [8192]\nworkloads: [bank]\ncrashs: 5\n', 'c.yaml')).toThrow(/crashs: unknown key/);
    expect(() => parseCampaign('modes: [nope]\nprofiles: [consumer-tlc]\npageSizes: [8192]\nworkloads: [bank]\n', 'c.yaml')).toThrow(/modes\.0: must be equal to one of the allowed values \(none, doublewrite, fpw, atomic\)/);
    expect(() => parseCampaign('{"modes": ["none"], "profiles": ["consumer-tlc"], "pageSizes": [1000], "workloads": ["bank"]}', 'c.json')).toThrow(/pageSizes\.0/);
    expect(() => parseCampaign('modes: [none', 'c.yaml')).toThrow(/not valid YAML/);
  });

  test('the matrix expands; atomic on a device that does not cover the page is forced only when asked', () => {
    const c = parseCampaign('modes: [none, atomic]\nprofiles: [consumer-tlc, atomic-16k, {profile: consumer-tlc, faults: [lying-flush]}]\npageSizes: [8192]\nworkloads: [bank, {name: kv-zipf, txns: 50}]\n', 'c.yaml');
    expect(expandCampaign(c)).toHaveLength(2 * 3 + 2 * 1 * 3 - 4);
    const forced = expandCampaign({ ...c, forceAtomic: true });
    expect(forced).toHaveLength(12);
    expect(forced.filter((x) => x.force).map((x) => x.profile)).toEqual(['consumer-tlc', 'consumer-tlc', 'consumer-tlc', 'consumer-tlc']);
    expect(deviceCoversPage('atomic-16k', 16384)).toBe(true);
    expect(deviceCoversPage('azure-atomic-16k', 8192)).toBe(true);
    expect(deviceCoversPage('consumer-tlc', 8192)).toBe(false);
    expect(deviceCoversPage('consumer-tlc', 4096)).toBe(true);
  });
});

describe('campaign files: PostgreSQL cells', () => {
  test('a postgres section expands to fpw x profiles cells; bad keys name the key', () => {
    const c = parseCampaign('profiles: [consumer-tlc, atomic-16k]\npostgres: {fpw: [on, off], crashes: 2, seed: 5}\n', 'pg.yaml');
    const cells = sectionCells(c, 'pg');
    expect(cells.map((x: { profile: string; fpw: boolean }) => `${x.profile}:${x.fpw}`)).toEqual(['consumer-tlc:true', 'consumer-tlc:false', 'atomic-16k:true', 'atomic-16k:false']);
    expect(cells[0]).toMatchObject({ crashes: 2, seed: 5, crashAt: 'checkpoint' });
    expect(expandCampaign(c)).toHaveLength(0);
    expect(() => parseCampaign('profiles: [consumer-tlc]\npostgres: {fpw: [maybe]}\n', 'pg.yaml')).toThrow(/postgres\.fpw\.0/);
    expect(() => parseCampaign('profiles: [consumer-tlc]\npostgres: {fpw: [on], cycles: 3}\n', 'pg.yaml')).toThrow(/postgres\.cycles: unknown key/);
  });

  test('PostgreSQL replay ids parse back into the cell and the cycle', () => {
    const { parsePgReplayId } = require('../../engines/postgres/config');
    expect(parsePgReplayId('pg:consumer-tlc+lying-flush:fpw=off:checkpoint:seed=1:cycle=3')).toMatchObject({ cycle: 3, cfg: { profile: 'consumer-tlc', faults: ['lying-flush'], fpw: false, seed: 1, crashes: 4 } });
    expect(() => parsePgReplayId('pg:consumer-tlc:fpw=maybe')).toThrow(/not a PostgreSQL replay id/);
  });
});

describe('campaign files: SQLite cells', () => {
  test('a sqlite section expands to cells x profiles (or the grid); bad values name the key', () => {
    const c = parseCampaign('profiles: [consumer-tlc]\nsqlite: {cells: [{journalMode: wal, synchronous: full, pageSize: 8192}], crashes: 3}\n', 'sq.yaml');
    expect(sectionCells(c, 'sqlite')).toEqual([{ cell: { journalMode: 'WAL', synchronous: 'FULL', pageSize: 8192 }, profile: 'consumer-tlc', faults: [], crashes: 3, seed: 1 }]);
    expect(sectionCells(parseCampaign('profiles: [consumer-tlc, atomic-16k]\nsqlite: {grid: true}\n', 'sq.yaml'), 'sqlite')).toHaveLength(90);
    expect(() => sectionCells(parseCampaign('profiles: [consumer-tlc]\nsqlite: {cells: [{journalMode: MEMORY, synchronous: FULL}]}\n', 'sq.yaml'), 'sqlite')).toThrow(/MEMORY/);
    expect(() => parseCampaign('profiles: [consumer-tlc]\nsqlite: {cels: []}\n', 'sq.yaml')).toThrow(/sqlite\.cels: unknown key/);
  });
});
