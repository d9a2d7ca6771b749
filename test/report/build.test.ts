import { buildCellResult, buildReport, cellStatus, compareNatural, latencySummary, measurementsFromCounters, CellMeasurements } from '../../src/report/build';
import { percentile } from '../../src/util/percentile';
import { Expectation, VERDICTS, VerdictCounts } from '../../src/report/schema';
import { BadInputError } from '../../src/util/errors';
import { syntheticCells } from './fixture';

const claimsSafe: Expectation = { kind: 'claims-safe', tolerated: [], reason: 'r' };

function base(over: Partial<CellMeasurements> = {}): CellMeasurements {
  return {
    engine: 'minipage',
    mode: 'fpw',
    profile: 'consumer-tlc',
    faults: [],
    pageSize: 8192,
    workload: 'bank',
    txns: 10,
    seed: 7,
    bytesByTag: { wal: 8192, fpi: 8192, page: 16384 },
    logicalBytesCommitted: 4096,
    commits: 8,
    nandBytesProgrammed: 65536,
    flushes: 12,
    fuaWrites: 2,
    simTimeUs: 2_000_000,
    commitLatenciesUs: [100, 300, 200, 400, 1000],
    crashStatesTried: 5,
    verdicts: { ok: 5 },
    findings: [],
    expectation: claimsSafe,
    ...over,
  };
}

function counts(partial: Partial<VerdictCounts>): VerdictCounts {
  return Object.fromEntries(VERDICTS.map((v) => [v, partial[v] ?? 0])) as VerdictCounts;
}

describe('buildCellResult derives every ratio from raw counts', () => {
  test('known answers', () => {
    const c = buildCellResult(base());
    expect(c.id).toBe('minipage/fpw/consumer-tlc/8192/bank');
    expect(c.bytesByTag).toEqual({ wal: 8192, fpi: 8192, doublewrite: 0, page: 16384, meta: 0, other: 0 });
    expect(c.hostWriteBytes).toBe(32768);
    expect(c.hostWriteAmplification).toBe(8);
    expect(c.nandWriteAmplification).toBe(2);
    expect(c.totalWriteAmplification).toBe(16);
    expect(c.flushesPerCommit).toBe(1.5);
    expect(c.fuaWritesPerCommit).toBe(0.25);
    expect(c.throughputTxnPerSec).toBe(4); // 8 commits in 2 simulated seconds
    expect(c.commitLatencyUs).toEqual({ p50: 300, p99: 1000 });
    // consumer-tlc is rated 600 TBW: 600e12 / (32768 / 8) committed txns
    expect(c.lifetime.tbwTerabytes).toBe(600);
    expect(c.lifetime.hostBytesPerTxn).toBe(4096);
    expect(c.lifetime.txnsToTbw).toBeCloseTo(600e12 / 4096, -6);
    // 16384 host bytes per second -> 600e12 / 16384 / 86400 days
    expect(c.lifetime.daysToTbwAtSimRate).toBeCloseTo(600e12 / 16384 / 86400, 0);
    expect(c.status).toBe('pass');
  });

  test('zero denominators give null, never NaN or Infinity', () => {
    const c = buildCellResult(base({ logicalBytesCommitted: 0, commits: 0, simTimeUs: 0, bytesByTag: {}, nandBytesProgrammed: 0 }));
    expect(c.hostWriteAmplification).toBeNull();
    expect(c.flushesPerCommit).toBeNull();
    expect(c.throughputTxnPerSec).toBeNull();
    expect(c.lifetime.txnsToTbw).toBeNull();
    expect(c.lifetime.daysToTbwAtSimRate).toBeNull();
    expect(JSON.stringify(c)).not.toMatch(/NaN|Infinity/);
  });

  test('verdicts must add up to the crash states tried', () => {
    expect(() => buildCellResult(base({ verdicts: { ok: 4 } }))).toThrow(/sum to 4 but crashStatesTried is 5/);
  });

  test('unknown profile needs an explicit TBW', () => {
    expect(() => buildCellResult(base({ profile: 'mystery' }))).toThrow(BadInputError);
    expect(buildCellResult(base({ profile: 'mystery', tbwTerabytes: 100 })).lifetime.tbwTerabytes).toBe(100);
  });

  test('findings are ordered by verdict then replay id (natural order), and capped', () => {
    const findings = [
      { replayId: 'r.p108', verdict: 'torn-page-detected' as const, detail: 'b' },
      { replayId: 'r.p30', verdict: 'torn-page-detected' as const, detail: 'a' },
      { replayId: 'r.p5', verdict: 'lost-commit' as const, detail: 'c' },
    ];
    const e: Expectation = { kind: 'demonstration', tolerated: ['torn-page-detected', 'lost-commit'], reason: 'x' };
    const all = buildCellResult(base({ verdicts: { ok: 2, 'torn-page-detected': 2, 'lost-commit': 1 }, findings, expectation: e }), 3);
    expect(all.findings.map((f) => f.replayId)).toEqual(['r.p30', 'r.p108', 'r.p5']);
    expect(all.findingsOmitted).toBe(0);
    const c = buildCellResult(base({ verdicts: { ok: 2, 'torn-page-detected': 2, 'lost-commit': 1 }, findings, expectation: e }), 2);
    expect(c.findings.map((f) => f.replayId)).toEqual(['r.p30', 'r.p5']); // one example of each verdict first
    expect(c.findingsOmitted).toBe(1);
    expect(c.status).toBe('finding-expected');
  });

  test('the cap keeps examples of every verdict', () => {
    const torn = Array.from({ length: 30 }, (_, i) => ({ replayId: `t${i}`, verdict: 'torn-page-detected' as const, detail: '' }));
    const silent = [1, 2, 3].map((i) => ({ replayId: `s${i}`, verdict: 'silent-corruption' as const, detail: '' }));
    const e: Expectation = { kind: 'demonstration', tolerated: ['torn-page-detected', 'silent-corruption'], reason: '' };
    const c = buildCellResult(base({ crashStatesTried: 40, verdicts: { ok: 7, 'torn-page-detected': 30, 'silent-corruption': 3 }, findings: [...silent, ...torn], expectation: e }), 10);
    expect(c.findings.map((f) => f.replayId)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6', 's1', 's2', 's3']);
    expect(c.findingsOmitted).toBe(23);
  });

  test('harness errors are sorted apart from findings, capped on their own, and never count as findings', () => {
    const states = [
      { replayId: 'r.p9', verdict: 'harness-error' as const, detail: 'verify: passed its deadline of 10 ms' },
      { replayId: 'r.p3', verdict: 'harness-error' as const, detail: 'verify: passed its deadline of 10 ms' },
      { replayId: 'r.p4', verdict: 'harness-error' as const, detail: 'mount: mkfs.ext4 is missing' },
      { replayId: 'r.p5', verdict: 'torn-page-detected' as const, detail: 'page 3' },
    ];
    const e: Expectation = { kind: 'demonstration', tolerated: ['torn-page-detected'], reason: 'x' };
    const c = buildCellResult(base({ crashStatesTried: 6, verdicts: { ok: 2, 'torn-page-detected': 1, 'harness-error': 3 }, findings: states, expectation: e }), 2);
    expect(c.findings).toEqual([{ replayId: 'r.p5', verdict: 'torn-page-detected', detail: 'page 3' }]);
    expect(c.findingsOmitted).toBe(0);
    expect(c.harnessErrors).toEqual([
      { replayId: 'r.p3', detail: 'verify: passed its deadline of 10 ms' },
      { replayId: 'r.p4', detail: 'mount: mkfs.ext4 is missing' },
    ]);
    expect(c.harnessErrorsOmitted).toBe(1);
    expect(c.status).toBe('harness-error');
    const r = buildReport({ toolVersion: 't', campaign: {}, cells: [c] });
    expect(r.totals.findings).toBe(1);
    expect(r.totals.verdicts['harness-error']).toBe(3);
  });

  test('an expectation never tolerates harness-error', () => {
    const e = { kind: 'demonstration', tolerated: ['torn-page-detected', 'harness-error'], reason: 'x' } as unknown as Expectation;
    const c = buildCellResult(base({ verdicts: { ok: 4, 'harness-error': 1 }, findings: [{ replayId: 'a', verdict: 'harness-error', detail: 'x: y' }], expectation: e }));
    expect(c.expectation.tolerated).toEqual(['torn-page-detected']);
  });

  test('measurementsFromCounters reads the device counters', () => {
    const byTag = { wal: { commands: 1, bytes: 4096 }, fpi: { commands: 0, bytes: 0 }, doublewrite: { commands: 0, bytes: 0 }, page: { commands: 2, bytes: 16384 }, meta: { commands: 0, bytes: 0 }, other: { commands: 0, bytes: 0 } };
    const m = measurementsFromCounters({ byTag, nandBytesProgrammed: 9, flushes: 3, fuaWrites: 1, simTimeUs: 77 } as never);
    expect(m).toEqual({ bytesByTag: { wal: 4096, fpi: 0, doublewrite: 0, page: 16384, meta: 0, other: 0 }, nandBytesProgrammed: 9, flushes: 3, fuaWrites: 1, simTimeUs: 77 });
  });
});

describe('cell status', () => {
  test('claims-safe: any non-ok verdict is a bug', () => {
    expect(cellStatus(counts({ ok: 10 }), claimsSafe)).toBe('pass');
    expect(cellStatus(counts({ ok: 9, 'lost-commit': 1 }), claimsSafe)).toBe('finding-bug');
  });
  test('demonstration: tolerated findings are expected', () => {
    const e: Expectation = { kind: 'demonstration', tolerated: ['torn-page-detected', 'silent-corruption'], reason: '' };
    expect(cellStatus(counts({ ok: 5, 'torn-page-detected': 5 }), e)).toBe('finding-expected');
    expect(cellStatus(counts({ ok: 10 }), e)).toBe('pass');
    expect(cellStatus(counts({ ok: 5, 'recovery-failed': 1 }), e)).toBe('finding-bug');
  });
  test('harness-error is neither a pass nor a finding; a bug outranks it', () => {
    const demo: Expectation = { kind: 'demonstration', tolerated: ['torn-page-detected'], reason: '' };
    expect(cellStatus(counts({ ok: 9, 'harness-error': 1 }), claimsSafe)).toBe('harness-error');
    expect(cellStatus(counts({ ok: 8, 'harness-error': 1, 'lost-commit': 1 }), claimsSafe)).toBe('finding-bug');
    expect(cellStatus(counts({ ok: 8, 'harness-error': 1, 'torn-page-detected': 1 }), demo)).toBe('harness-error');
    expect(cellStatus(counts({ 'harness-error': 10 }), demo)).toBe('harness-error');
  });
  test('documented-tradeoff: only the permitted verdicts are expected', () => {
    const e: Expectation = { kind: 'documented-tradeoff', tolerated: ['lost-commit'], reason: 'asynchronous commit' };
    expect(cellStatus(counts({ ok: 5, 'lost-commit': 3 }), e)).toBe('finding-expected');
    expect(cellStatus(counts({ ok: 5, 'lost-commit': 3, 'atomicity-violation': 1 }), e)).toBe('finding-bug');
  });
});

describe('helpers', () => {
  test('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100 shuffled by reversal
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([], 50)).toBe(0);
    expect(latencySummary([7])).toEqual({ p50: 7, p99: 7 });
  });
  test('natural order', () => {
    expect(['a10', 'a9', 'a100', 'b1', 'a09'].sort(compareNatural)).toEqual(['a9', 'a09', 'a10', 'a100', 'b1']);
  });
});

describe('buildReport', () => {
  test('cells come out in canonical order whatever the input order; totals add up', () => {
    const cells = syntheticCells(50);
    const shuffled = [...cells].reverse();
    shuffled.push(shuffled.shift()!);
    const r = buildReport({ toolVersion: 't', generatedAt: '2026-01-01T00:00:00.000Z', campaign: {}, cells: shuffled });
    expect(r.cells.map((c) => c.id)).toEqual(buildReport({ toolVersion: 't', campaign: {}, cells }).cells.map((c) => c.id));
    expect(r.cells.slice(0, 3).map((c) => c.id)).toEqual([
      'minipage/none/consumer-tlc/8192/bank',
      'minipage/none/consumer-tlc/8192/kv-zipf',
      'minipage/none/atomic-16k/8192/bank',
    ]);
    expect(r.cells[r.cells.length - 1].id).toBe('minipage/atomic/enterprise-plp/8192/kv-zipf');
    expect(r.totals.cells).toBe(24);
    expect(r.totals.crashStatesTried).toBe(24 * 50);
    expect(r.totals.verdicts.ok + r.totals.findings + r.totals.verdicts['harness-error']).toBe(24 * 50);
    expect(r.totals.verdicts['harness-error']).toBe(2);
    expect(r.totals.cellsByStatus['finding-bug']).toBe(1);
    expect(r.totals.cellsByStatus['finding-expected']).toBe(4);
    expect(r.totals.cellsByStatus['harness-error']).toBe(1);
    expect(r.totals.hostWriteBytes).toBe(cells.reduce((s, c) => s + c.hostWriteBytes, 0));
  });

  test('duplicate cells are refused', () => {
    const cells = syntheticCells(10);
    expect(() => buildReport({ toolVersion: 't', campaign: {}, cells: [...cells, cells[3]] })).toThrow(/same id/);
  });
});
