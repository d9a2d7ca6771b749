/**
 * PostgreSQL's evidence to a verdict (engines/postgres/verdict.ts), on logs
 * the real server wrote. The first case is the false alarm of
 * pg:consumer-tlc:fpw=on:checkpoint:seed=1:cycle=2 (docs/postgres-fsm-torn-page.md):
 * recovery zeroed a torn free-space-map page as designed, and every check
 * after it passed; that is `ok`. Damage to a main-fork page stays
 * `torn-page-detected`, whatever map pages were zeroed beside it.
 */
import { decideVerdict, detailLine, Evidence, logChecksumEvidence } from '../../engines/postgres/verdict';
import { notableLogLines } from '../../engines/postgres/server';
import { OracleResult } from '../../engines/postgres/bank';

// The recovery log of the false alarm, verbatim (PostgreSQL 15.18, consumer-tlc, cut inside a CHECKPOINT).
const FSM_ZEROED_LOG = `2026-12-02 15:30:59.218 UTC [22823] LOG:  database system was not properly shut down; automatic recovery in progress
2026-12-02 15:30:59.220 UTC [22823] LOG:  redo starts at 0/1D23738
2026-12-02 15:30:59.220 UTC [22823] WARNING:  page verification failed, calculated checksum 22642 but expected 30262
2026-12-02 15:30:59.220 UTC [22823] CONTEXT:  WAL redo at 0/1D4B510 for Heap/UPDATE: off 15 xmax 769 flags 0x01 ; new off 45 xmax 0; blkref #0: rel 1663/5/16384, blk 363; blkref #1: rel 1663/5/16384, blk 52
2026-12-02 15:30:59.221 UTC [22823] WARNING:  invalid page in block 2 of relation base/5/16384_fsm; zeroing out page
2026-12-02 15:30:59.221 UTC [22823] CONTEXT:  WAL redo at 0/1D4B510 for Heap/UPDATE: off 15 xmax 769 flags 0x01 ; new off 45 xmax 0; blkref #0: rel 1663/5/16384, blk 363; blkref #1: rel 1663/5/16384, blk 52
2026-12-02 15:30:59.223 UTC [22823] LOG:  invalid record length at 0/1F02700: wanted 24, got 0
2026-12-02 15:30:59.224 UTC [22823] LOG:  redo done at 0/1F026D8 system usage: CPU: user: 0.00 s, system: 0.00 s, elapsed: 0.00 s
2026-12-02 15:30:59.291 UTC [22818] LOG:  database system is ready to accept connections
`;

// A main-fork page that failed its checksum (what full_page_writes=off gets): an ERROR, nothing zeroed.
const HEAP_TORN_LOG = `2026-12-02 15:31:10.001 UTC [30001] LOG:  redo starts at 0/1D23738
2026-12-02 15:31:10.002 UTC [30001] WARNING:  page verification failed, calculated checksum 1234 but expected 4321
2026-12-02 15:31:10.002 UTC [30001] CONTEXT:  WAL redo at 0/1D4B510 for Heap/HOT_UPDATE: off 3 xmax 770 flags 0x10 ; new off 9 xmax 0; blkref #0: rel 1663/5/16384, blk 17
2026-12-02 15:31:10.003 UTC [30001] FATAL:  invalid page in block 17 of relation base/5/16384
`;

const oracle: OracleResult = { accountRows: 20000, balanceSum: 0n, expectedSum: 0n, presentTransfers: 106, lostCommits: [], inconsistentAccounts: 0, queryErrors: [] };
const clean = { code: 0, output: 'Checksum operation completed\nFiles scanned:   954\nBlocks scanned:  3249\nBad checksums:  0\nData checksum version: 1' };
const after = (log: string, over: Partial<Evidence> = {}): Evidence => ({ recoveryFailed: false, log, oracle, amcheck: { code: 0, output: '' }, checksums: clean, cleanShutdown: true, ...over });

describe('PostgreSQL verdicts', () => {
  test('a free-space-map page zeroed during redo, everything verified after it: ok (the fpw=on false alarm)', () => {
    expect(decideVerdict(after(FSM_ZEROED_LOG))).toBe('ok');
    const lines = FSM_ZEROED_LOG.split('\n');
    expect(logChecksumEvidence(FSM_ZEROED_LOG)).toEqual({ damage: [], zeroedMapPages: ['base/5/16384_fsm block 2'], repairLines: [lines[2], lines[4]] });
  });

  test('a visibility-map page zeroed is the same designed repair', () => {
    const log = FSM_ZEROED_LOG.replace('16384_fsm', '16384_vm');
    expect(decideVerdict(after(log))).toBe('ok');
    expect(logChecksumEvidence(log).zeroedMapPages).toEqual(['base/5/16384_vm block 2']);
  });

  test('a map page still bad on disk after recovery is caught by pg_checksums', () => {
    const bad = { code: 1, output: 'checksum verification failed in file "base/5/16384_fsm", block 2: calculated checksum 5868 but block contains 30262\nBad checksums:  1' };
    expect(decideVerdict(after(FSM_ZEROED_LOG, { checksums: bad }))).toBe('torn-page-detected');
  });

  test('a torn main-fork page is torn-page-detected, alone or beside a zeroed map page of another backend', () => {
    expect(decideVerdict({ recoveryFailed: true, log: HEAP_TORN_LOG })).toBe('torn-page-detected');
    expect(decideVerdict(after(HEAP_TORN_LOG))).toBe('torn-page-detected');
    // Interleaved: backend 30001's failed heap read between backend 22823's warning and its zeroing line.
    const lines = FSM_ZEROED_LOG.split('\n');
    const mixed = [...lines.slice(0, 3), HEAP_TORN_LOG.split('\n')[1], ...lines.slice(3)].join('\n');
    const ev = logChecksumEvidence(mixed);
    expect(ev.zeroedMapPages).toEqual(['base/5/16384_fsm block 2']);
    expect(ev.damage).toEqual([HEAP_TORN_LOG.split('\n')[1]]);
    expect(decideVerdict(after(mixed))).toBe('torn-page-detected');
  });

  test('a main-fork page zeroed (zero_damaged_pages=on) is still damage', () => {
    const log = FSM_ZEROED_LOG.replace('16384_fsm', '16384');
    expect(logChecksumEvidence(log).zeroedMapPages).toEqual([]);
    expect(decideVerdict(after(log))).toBe('torn-page-detected');
  });

  test('a checksum failure whose read was not a map-page zeroing stays damage even when a map page is zeroed later', () => {
    // The warning of 22823 is followed by its own main-fork error before the map-page zeroing.
    const log = [
      '2026-12-02 15:30:59.220 UTC [22823] WARNING:  page verification failed, calculated checksum 1 but expected 2',
      '2026-12-02 15:30:59.220 UTC [22823] ERROR:  invalid page in block 9 of relation base/5/16389',
      '2026-12-02 15:30:59.221 UTC [22823] WARNING:  invalid page in block 2 of relation base/5/16384_fsm; zeroing out page',
    ].join('\n');
    expect(logChecksumEvidence(log).damage.length).toBe(2);
  });

  test("a cycle's detail line skips the map-page repair and names the damage", () => {
    expect(detailLine(notableLogLines(FSM_ZEROED_LOG))).toBeUndefined();
    const both = FSM_ZEROED_LOG + HEAP_TORN_LOG;
    expect(detailLine(notableLogLines(both))).toBe(HEAP_TORN_LOG.split('\n')[1]);
  });

  test("PostgreSQL 18's forms of the zeroing line (quoted path, a range of a vectored read)", () => {
    const quoted = FSM_ZEROED_LOG.replace('relation base/5/16384_fsm;', 'relation "base/5/16384_fsm";');
    expect(logChecksumEvidence(quoted).zeroedMapPages).toEqual(['base/5/16384_fsm block 2']);
    expect(decideVerdict(after(quoted))).toBe('ok');
    const range = FSM_ZEROED_LOG.replace('invalid page in block 2 of relation base/5/16384_fsm; zeroing out page', 'zeroing out 2 invalid pages among blocks 0..2 of relation "base/5/16384_fsm"');
    expect(logChecksumEvidence(range).zeroedMapPages).toEqual(['base/5/16384_fsm blocks 0..2']);
    const heapRange = range.replace('16384_fsm', '16384');
    expect(decideVerdict(after(heapRange))).toBe('torn-page-detected');
  });
});
