/**
 * A synthetic but realistic report: minipage, 8 KiB pages, modes none /
 * doublewrite / fpw / atomic x profiles consumer-tlc / atomic-16k /
 * enterprise-plp x workloads bank / kv-zipf. The cost model is a rough sketch of
 * what the engine does (one 4 KiB WAL block per commit, checkpoints write the
 * dirty pages, doublewrite writes them twice, fpw logs first-touch images), and
 * the verdicts are what the architecture predicts, plus one deliberate bug cell
 * (fpw / consumer-tlc / kv-zipf loses commits) and one cell the testbed failed
 * to judge twice (doublewrite / enterprise-plp / kv-zipf: harness errors) so
 * that every status shows up.
 */
import { buildCellResult, buildReport, CellMeasurements } from '../../src/report/build';
import { CellResult, Expectation, NON_OK, NonOkState, Report, Verdict, VERDICTS } from '../../src/report/schema';
import { Prng } from '../../src/util/prng';

export const MODES = ['none', 'doublewrite', 'fpw', 'atomic'] as const;
export const PROFILES = ['consumer-tlc', 'atomic-16k', 'enterprise-plp'] as const;
export const WORKLOADS = ['bank', 'kv-zipf'] as const;
export const GENERATED_AT = '2026-11-21T14:00:00.000Z';

const PAGE = 8192;
const BLOCK = 4096;

interface ProfileModel {
  nandWa: number;
  flushUs: number;
  p99Factor: number;
  tears: boolean;
}

const PROFILE_MODEL: Record<(typeof PROFILES)[number], ProfileModel> = {
  'consumer-tlc': { nandWa: 1.31, flushUs: 850, p99Factor: 3.1, tears: true },
  'atomic-16k': { nandWa: 1.14, flushUs: 620, p99Factor: 2.6, tears: false },
  'enterprise-plp': { nandWa: 1.04, flushUs: 35, p99Factor: 2.2, tears: false },
};

function expectation(mode: string, profile: string): Expectation {
  const nonOk = [...NON_OK];
  if (mode === 'none') return { kind: 'demonstration', tolerated: nonOk, reason: 'none writes pages in place and claims nothing against torn pages' };
  if (mode === 'atomic' && profile === 'consumer-tlc') return { kind: 'demonstration', tolerated: nonOk, reason: 'atomic forced on a device whose AWUPF covers one 4 KiB block, not an 8 KiB page' };
  return { kind: 'claims-safe', tolerated: [], reason: `${mode} protects every page write on ${profile}` };
}

function verdictsFor(mode: string, profile: string, workload: string, tried: number, prng: Prng): Partial<Record<Verdict, number>> {
  const tears = PROFILE_MODEL[profile as keyof typeof PROFILE_MODEL].tears;
  if ((mode === 'none' || mode === 'atomic') && tears) {
    const torn = prng.int(Math.floor(tried * 0.15), Math.floor(tried * 0.25));
    const silent = mode === 'none' && workload === 'kv-zipf' ? 3 : 0;
    return { ok: tried - torn - silent, 'torn-page-detected': torn, 'silent-corruption': silent };
  }
  if (mode === 'fpw' && profile === 'consumer-tlc' && workload === 'kv-zipf') return { ok: tried - 2, 'lost-commit': 2 };
  if (mode === 'doublewrite' && profile === 'enterprise-plp' && workload === 'kv-zipf') return { ok: tried - 2, 'harness-error': 2 };
  return { ok: tried };
}

function findingsFor(id: string, verdicts: Partial<Record<Verdict, number>>, seed: number): NonOkState[] {
  const out: NonOkState[] = [];
  let point = 17;
  for (const v of VERDICTS) {
    if (v === 'ok') continue;
    for (let i = 0; i < (verdicts[v] ?? 0); i++) {
      point += 13;
      const replayId = `tl1.${id.split('/')[2]}.s${seed}.p${point}.c${(i * 7) % 5}`;
      const detail =
        v === 'torn-page-detected'
          ? `page ${3 + (point % 29)}: CRC-32C mismatch after recovery`
          : v === 'lost-commit'
            ? `txn ${point * 3} acknowledged but missing after recovery`
            : v === 'harness-error'
              ? `verify: passed its deadline of 120000 ms`
              : `page ${point % 31}: key order broken with a valid checksum`;
      out.push({ replayId, verdict: v, detail });
    }
  }
  return out;
}

export function syntheticCells(crashesPerCell = 200, seed = 42): CellResult[] {
  const root = new Prng(seed, 'report-fixture');
  const cells: CellResult[] = [];
  for (const mode of MODES) {
    for (const profile of PROFILES) {
      for (const workload of WORKLOADS) {
        const prng = root.fork(`${mode}/${profile}/${workload}`);
        const pm = PROFILE_MODEL[profile];
        const txns = 400;
        const commits = txns;
        const rowBytes = workload === 'bank' ? 240 : 1100;
        const logical = commits * rowBytes;
        const dirtyPages = workload === 'bank' ? 96 : 230;
        const checkpoints = 4;
        const pageBytes = dirtyPages * checkpoints * PAGE;
        const wal = commits * BLOCK + prng.int(0, 40) * BLOCK;
        const bytesByTag = {
          wal,
          fpi: mode === 'fpw' ? Math.round(dirtyPages * checkpoints * 0.7) * PAGE : 0,
          doublewrite: mode === 'doublewrite' ? pageBytes : 0,
          page: pageBytes,
          meta: checkpoints * BLOCK,
          other: 0,
        };
        const host = Object.values(bytesByTag).reduce((a, b) => a + b, 0);
        const flushes = commits + checkpoints * (mode === 'doublewrite' ? 3 : 2);
        const fuaWrites = mode === 'atomic' && profile === 'atomic-16k' ? checkpoints : 0;
        const p50 = Math.round(pm.flushUs * (mode === 'fpw' ? 1.18 : mode === 'doublewrite' ? 1.05 : 1) + 12);
        const simTimeUs = commits * p50 * 1.1 + host / 2.5;
        const tried = crashesPerCell;
        const verdicts = verdictsFor(mode, profile, workload, tried, prng);
        const id = `minipage/${mode}/${profile}/${PAGE}/${workload}`;
        const m: CellMeasurements = {
          engine: 'minipage',
          mode,
          profile,
          faults: [],
          pageSize: PAGE,
          workload,
          txns,
          seed,
          bytesByTag,
          logicalBytesCommitted: logical,
          commits,
          nandBytesProgrammed: Math.round(host * pm.nandWa),
          flushes,
          fuaWrites,
          simTimeUs: Math.round(simTimeUs),
          commitLatencyUs: { p50, p99: Math.round(p50 * pm.p99Factor) },
          crashStatesTried: tried,
          verdicts,
          findings: findingsFor(id, verdicts, seed),
          expectation: expectation(mode, profile),
        };
        cells.push(buildCellResult(m));
      }
    }
  }
  return cells;
}

export function syntheticReport(generatedAt = GENERATED_AT, crashesPerCell = 200): Report {
  return buildReport({
    toolVersion: '0.1.0',
    generatedAt,
    title: 'tornlab report: synthetic fixture',
    campaign: {
      name: 'fixture',
      seed: 42,
      engines: ['minipage'],
      modes: [...MODES],
      profiles: PROFILES.map((p) => ({ name: p, faults: [] })),
      pageSizes: [PAGE],
      workloads: WORKLOADS.map((w) => ({ name: w, txns: 400 })),
      crashes: crashesPerCell,
    },
    cells: syntheticCells(crashesPerCell),
  });
}
