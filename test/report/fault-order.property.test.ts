/**
 * Issue 16 item 4: one canonical fault order for ids, storage and validation.
 * Every report tornlab writes passes tornlab's own validator, over random
 * cells with random fault sets given in random order.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCellResult, buildReport } from '../../src/report/build';
import { validateReport } from '../../src/report/validate';
import { readReportDir, renderJson, writeReportDir } from '../../src/report/writer';
import { FAULT_NAMES, PROFILES } from '../../src/device/profiles';
import { canonicalFaults, FAULT_ORDER } from '../../src/crash/faults';
import { closeWorkerPool, runCell } from '../../src/campaign/run-cell';
import { Expectation } from '../../src/report/schema';

const demo: Expectation = { kind: 'demonstration', tolerated: [], reason: 'r' };
/** A fault set in any order (sub-block-tear possibly with its granularity). */
const faultSet = fc
  .shuffledSubarray([...FAULT_NAMES] as string[])
  .chain((names) => fc.tuple(fc.constant(names), fc.boolean()))
  .map(([names, eight]) => names.map((n) => (n === 'sub-block-tear' && eight ? 'sub-block-tear:8' : n)));

afterAll(() => closeWorkerPool());

describe('canonical fault order', () => {
  test('is the device order and is idempotent', () => {
    expect(FAULT_ORDER).toEqual([...FAULT_NAMES].filter((n) => FAULT_ORDER.includes(n)));
    fc.assert(
      fc.property(faultSet, (f) => {
        const c = canonicalFaults(f);
        expect(canonicalFaults(c)).toEqual(c);
        expect(canonicalFaults([...f].reverse())).toEqual(c);
      }),
    );
  });

  test('a report built from any cell with any fault order passes the validator', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(PROFILES)),
        fc.constantFrom('none', 'doublewrite', 'fpw', 'atomic'),
        fc.constantFrom(4096, 8192, 16384),
        faultSet,
        (profile, mode, pageSize, faults) => {
          const cell = buildCellResult({
            engine: 'minipage', mode, profile, faults, pageSize, workload: 'bank', txns: 10, seed: 1,
            bytesByTag: { wal: 4096, page: 8192 }, logicalBytesCommitted: 100, commits: 5, nandBytesProgrammed: 12288,
            flushes: 3, fuaWrites: 0, simTimeUs: 1000, commitLatenciesUs: [1, 2], crashStatesTried: 1, verdicts: { ok: 1 }, findings: [], expectation: demo,
          });
          const report = buildReport({ toolVersion: 't', title: 't', campaign: {}, cells: [cell], generatedAt: '2026-01-01T00:00:00.000Z' });
          validateReport(JSON.parse(renderJson(report)), 'property');
        },
      ),
      { numRuns: 200 },
    );
  });

  test('tornlab run: every report it writes reads back (real cells, random fault sets)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-faultorder-'));
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('none', 'fpw', 'doublewrite'), fc.constantFrom('consumer-tlc', 'atomic-16k'), faultSet, fc.integer({ min: 1, max: 1000 }), async (mode, profile, faults, seed) => {
          const o = await runCell({ engine: 'minipage', mode, force: false, profile, faults, pageSize: 8192, workload: 'bank', txns: 8, seed, crashes: 3, strategy: 'random', crashDuringRecovery: false }, { workers: 1 });
          const report = buildReport({ toolVersion: 't', title: 't', campaign: {}, cells: [o.result] });
          const out = path.join(dir, `r${seed}`);
          writeReportDir(out, report);
          expect(readReportDir(out).cells[0].id).toBe(o.result.id);
        }),
        { numRuns: 12 },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
