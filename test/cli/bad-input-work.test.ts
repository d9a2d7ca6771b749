/**
 * Issue 16 items 2, 3, 5, 6: errors of the tools tornlab runs are bad input
 * (a setting PostgreSQL refuses, a full device), work is never lost (the
 * per-cell log and a partial report), exec's ack file is strict, and doctor
 * knows the temp folders runs make.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { missingForExport } from '../../src/export';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { AckFileError, readAcks } from '../../engines/exec/runner';
import { tempLeftovers } from '../../src/export/doctor';
import { buildCellResult } from '../../src/report/build';
import { logCell, readCellLog, rerenderReportDir, startCellLog } from '../../src/report/writer';
import { checkCampaign, countCells, expandCampaign, parseCampaign } from '../../src/campaign/campaign-file';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const tornlab = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 240_000 });
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-badwork-test-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('campaign checks before expansion', () => {
  test('countCells equals the expanded matrix, atomic cells skipped or forced', () => {
    for (const forceAtomic of [false, true]) {
      const c = parseCampaign(JSON.stringify({ modes: ['none', 'atomic'], profiles: ['consumer-tlc', 'atomic-16k'], pageSizes: [4096, 16384], workloads: ['bank', 'ycsb-a'], commits: ['flush', 'fua'], forceAtomic, controls: false }), 'm.json');
      checkCampaign(c, 'm.json');
      expect(countCells(c).total).toBe(expandCampaign(c).length);
    }
  });
  test('the same profile twice (faults in another order) is refused: two cells with one id', () => {
    const c = parseCampaign(JSON.stringify({ modes: ['none'], profiles: [{ profile: 'consumer-tlc', faults: ['misdirected-write', 'lying-flush'] }, { profile: 'consumer-tlc', faults: ['lying-flush', 'misdirected-write'] }] }), 'x.json');
    expect(() => checkCampaign(c, 'x.json')).toThrow(/profiles lists "consumer-tlc\+lying-flush\+misdirected-write" twice/);
  });
  test('a 20,160-cell matrix is refused at once (without expanding it), with its count', () => {
    const faults = ['lying-flush', 'sub-block-tear', 'torn-atomic', 'misdirected-write'];
    const subsets = Array.from({ length: 16 }, (_, m) => faults.filter((_f, i) => m & (1 << i)));
    const profiles = ['consumer-tlc', 'atomic-16k', 'enterprise-plp'].flatMap((profile) => subsets.map((f) => ({ profile, faults: f })));
    const big = parseCampaign(JSON.stringify({ modes: ['none', 'fpw', 'doublewrite', 'atomic'], profiles, pageSizes: [4096, 8192, 16384], workloads: ['bank', 'kv-uniform', 'kv-zipf', 'ycsb-a', 'ycsb-f', 'tpcc-like', 'insert-seq'], commits: ['flush', 'fua', 'token', 'critical', 'window'], forceAtomic: true }), 'y.json');
    const t0 = Date.now();
    expect(() => checkCampaign(big, 'y.json')).toThrow(/expands to 20160 cells .*more than the limit of 2000; .*--max-cells 20160/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(() => checkCampaign(big, 'y.json', 20160)).not.toThrow();
  });
});

describe('work is never lost: the cell log', () => {
  const cell = (workload: string) =>
    buildCellResult({
      engine: 'minipage', mode: 'none', profile: 'consumer-tlc', faults: [], pageSize: 8192, workload, txns: 10, seed: 1,
      bytesByTag: {}, nandBytesProgrammed: 0, flushes: 0, fuaWrites: 0, simTimeUs: 0, logicalBytesCommitted: 100, commits: 10, commitLatenciesUs: [],
      crashStatesTried: 1, verdicts: { ok: 1 }, findings: [], expectation: { kind: 'claims-safe', tolerated: [], reason: 'r' },
    });
  test('tornlab report DIR builds a partial report from the cells logged so far, and says so', () => {
    const dir = path.join(tmp, 'partial');
    startCellLog(dir, { toolVersion: '0.0.0', title: 'tornlab campaign t', campaign: { name: 't' }, cells: 3 });
    logCell(dir, 0, cell('bank'));
    logCell(dir, 1, cell('ycsb-a'));
    expect(() => logCell(dir, 1, cell('ycsb-a'))).toThrow(/logged once/);
    expect(readCellLog(dir)!.cells.map((c) => c.workload)).toEqual(['bank', 'ycsb-a']);
    const r = tornlab('report', dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/PARTIAL report: .* after 2 of 3 cells/);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    expect(report.title).toBe('tornlab campaign t (partial: 2 of 3 cells)');
    expect(report.cells).toHaveLength(2);
    // Once report.json exists, report DIR re-renders it as before.
    expect(rerenderReportDir(dir).partial).toBeUndefined();
  });
  test('run --out logs its cell and writes a report that passes the validator', () => {
    const dir = path.join(tmp, 'run-out');
    const r = tornlab('run', '--mode', 'none', '--txns', '20', '--keys', '100', '--crashes', '5', '--out', dir);
    expect([0, 1, 4]).toContain(r.status);
    expect(fs.readdirSync(path.join(dir, 'cells')).sort()).toEqual(['0001.json', 'campaign.json']);
    expect(tornlab('report', dir, '--quiet').status).toBe(0);
  });
});

describe('exec acknowledgements are strict', () => {
  test.each([
    ['a control character', 'op1\n\u0001\u0002\n', /line 2 .* control character/],
    ['an empty line', 'op1\n\nop3\n', /line 2 .* it is empty/],
    ['a line too long', `${'x'.repeat(300)}\n`, /line 1 .* longer than 256 bytes/],
    ['bytes that are not UTF-8', Buffer.from([0x6f, 0x70, 0xff, 0x0a]), /line 1 .* not UTF-8/],
  ])('%s: AckFileError naming the line', (_what, text, message) => {
    const f = path.join(tmp, 'acks');
    fs.writeFileSync(f, text);
    expect(() => readAcks(f)).toThrow(AckFileError);
    expect(() => readAcks(f)).toThrow(message);
  });
  test('well-formed lines count; a partial last line does not yet', () => {
    const f = path.join(tmp, 'acks-ok');
    fs.writeFileSync(f, 'op1\nop 2\nöp3\nop4');
    expect(readAcks(f)).toEqual(['op1', 'op 2', 'öp3']);
  });
  test('a malformed line ends the cycle harness-error (exit 3), never counted', () => {
    const r = tornlab('exec', '--mount', path.join(tmp, 'm'), '--start', 'true', '--load', 'printf "1\\n\\001\\n" >> "$TORNLAB_ACK_FILE"; sleep 5', '--verify', 'true', '--cut-after-acks', '3', '--no-device');
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/harness-error: \$TORNLAB_ACK_FILE line 2 .* not counted/);
    expect(fs.existsSync(path.join(tmp, 'm'))).toBe(false); // the --mount folder it made is gone
  });
});

describe('doctor knows temp folders', () => {
  test('a plain-directory temp folder of a dead process is a leftover; one of a live process is not', () => {
    const dead = path.join(os.tmpdir(), 'tornlab-plain-999999999-abcdef');
    const live = path.join(os.tmpdir(), `tornlab-exec-acks-${process.ppid}-abcdef`);
    fs.mkdirSync(dead, { recursive: true });
    fs.mkdirSync(live, { recursive: true });
    try {
      const ids = tempLeftovers().map((l) => l.id);
      expect(ids).toContain(dead);
      expect(ids).not.toContain(live);
    } finally {
      fs.rmSync(dead, { recursive: true, force: true });
      fs.rmSync(live, { recursive: true, force: true });
    }
  });
});

const noExport = missingForExport('ext4');
const noPg = [...noExport, ...missingForPostgres()];
if (noPg.length) process.stdout.write(`skipping the PostgreSQL bad-input test: missing ${noPg.map((m) => m.what).join(', ')}\n`);
(noPg.length ? test.skip : test)('pg --set shared_buffers=banana: exit 2 with PostgreSQL\'s own words, before any work', () => {
  const r = tornlab('pg', '--fpw', 'on', '--set', 'shared_buffers=banana', '--crashes', '1');
  expect(r.stderr).toMatch(/PostgreSQL refuses the setting: invalid value for parameter "shared_buffers": "banana"/);
  expect(r.status).toBe(2);
  noStack(r.stderr);
});
if (noExport.length) process.stdout.write(`skipping the full-device test: missing ${noExport.map((m) => m.what).join(', ')}\n`);
(noExport.length ? test.skip : test)('sqlite on a full device: exit 2 naming the --device-mib it needs', () => {
  const r = tornlab('sqlite', '--device-mib', '1', '--max-acks', '20000', '--crashes', '1');
  expect(r.stderr).toMatch(/the device is full: SQLite stopped with SQLITE_FULL after \d+ acknowledged commits on a 1 MiB device; give it more with --device-mib \d+/);
  expect(r.status).toBe(2);
  noStack(r.stderr);
});

test('a new run warns about a dead run\'s temp folder (one line), and still runs', () => {
  const dead = path.join(os.tmpdir(), 'tornlab-exec-acks-999999998-abcdef');
  fs.mkdirSync(dead, { recursive: true });
  try {
    const r = spawnSync(process.execPath, [CLI, 'sqlite', '--no-device', '--crashes', '1'], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, TORNLAB_LEFTOVER_WARNING: 'on' } });
    expect(r.stderr).toMatch(/^tornlab: warning: leftovers: .*\d+ temp folder\(s\) of dead runs; tornlab doctor lists them/m);
    expect(r.status).toBe(0);
  } finally {
    fs.rmSync(dead, { recursive: true, force: true });
  }
});

(noPg.length ? test.skip : test)('pg with a data set larger than its device: exit 2 naming the --device-mib the data set needs', () => {
  const r = tornlab('pg', '--fpw', 'on', '--device-mib', '64', '--accounts', '200000', '--crashes', '1');
  expect(r.stderr).toMatch(/the device is full: the base image \(initdb and 200000 accounts\) does not fit in 64 MiB; give it more with --device-mib \d+ \(the data set needs about \d+ MiB\)/);
  expect(r.status).toBe(2);
  noStack(r.stderr);
});
