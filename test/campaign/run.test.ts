import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { CellSpec } from '../../src/crash/cell';
import { runCell } from '../../src/campaign/run-cell';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

const base: CellSpec = {
  engine: 'minipage',
  mode: 'none',
  force: false,
  profile: 'consumer-tlc',
  faults: [],
  pageSize: 8192,
  workload: 'bank',
  txns: 120,
  seed: 42,
  crashes: 300,
  strategy: 'mixed',
  crashDuringRecovery: false,
};

describe('campaign cells (known answers through the campaign machinery)', () => {
  test('none on consumer-tlc is caught (expected demonstration); the same states with 1 or 2 workers', async () => {
    const one = await runCell(base, { workers: 1 });
    const two = await runCell(base, { workers: 2 });
    expect(two.states).toEqual(one.states);
    expect(one.result.verdicts['torn-page-detected']).toBeGreaterThan(0);
    expect(one.result.status).toBe('finding-expected');
    console.log(`none/consumer-tlc: ${one.result.crashStatesTried} states, ${one.result.verdicts['torn-page-detected']} torn-page-detected`);
  });

  test.each([
    ['doublewrite', 'consumer-tlc', false],
    ['fpw', 'consumer-tlc', false],
    ['atomic', 'atomic-16k', false],
    ['fpw', 'consumer-tlc', true],
    ['doublewrite', 'azure-atomic-16k', true],
  ])('%s on %s (crash during recovery: %s): every crash state ok', async (mode, profile, crashDuringRecovery) => {
    const o = await runCell({ ...base, mode, profile, crashDuringRecovery, crashes: 400, workload: 'kv-zipf' }, { workers: 1 });
    expect(o.result.crashStatesTried).toBeGreaterThan(150);
    expect(o.result.verdicts.ok).toBe(o.result.crashStatesTried);
    expect(o.result.status).toBe('pass');
    if (crashDuringRecovery) expect(o.states.filter((s) => s.replayId.includes('.r')).length).toBeGreaterThan(50);
  });

  test('exhaustive: every command boundary of a short run, every choice of small spaces', async () => {
    const o = await runCell({ ...base, mode: 'fpw', txns: 12, strategy: 'exhaustive', crashes: 100000 }, { workers: 1 });
    expect(o.truncated).toBe(false);
    expect(o.states.some((s) => /\.e[0-9a-z]+$/.test(s.replayId))).toBe(true);
    expect(o.result.verdicts.ok).toBe(o.result.crashStatesTried);
  });

  test('byte accounting: doublewrite about doubles page bytes, fpw adds WAL (full page images)', async () => {
    const r = async (mode: string) => (await runCell({ ...base, mode, crashes: 0, workload: 'kv-uniform', txns: 300 }, { workers: 1 })).result;
    const none = await r('none');
    const dw = await r('doublewrite');
    const fpw = await r('fpw');
    const dwFactor = (dw.bytesByTag.page + dw.bytesByTag.doublewrite) / none.bytesByTag.page;
    const fpwFactor = (fpw.bytesByTag.wal + fpw.bytesByTag.fpi) / (none.bytesByTag.wal + none.bytesByTag.fpi);
    console.log(`doublewrite page+dw bytes / none page bytes = ${dwFactor.toFixed(2)}; fpw wal+fpi / none = ${fpwFactor.toFixed(2)}`);
    expect(dwFactor).toBeGreaterThan(1.8);
    expect(dwFactor).toBeLessThan(2.2);
    expect(fpwFactor).toBeGreaterThan(1.1);
  });
});

describe('the tornlab command', () => {
  test('run: exit 1 with replay ids for a finding, 0 for a safe mode, JSON and JUnit on request; replay rebuilds the state', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-cli-'));
    try {
      const junit = path.join(dir, 'junit.xml');
      const r = cli('run', '--mode', 'none', '--profile', 'consumer-tlc', '--txns', '100', '--crashes', '200', '--seed', '7', '--json', '--junit', junit, '--out', path.join(dir, 'rep'));
      expect(r.status).toBe(1);
      const j = JSON.parse(r.stdout);
      expect(j.verdicts['torn-page-detected']).toBeGreaterThan(0);
      expect(fs.readFileSync(junit, 'utf8')).toMatch(/<testcase classname="tornlab.minipage" name="minipage\/none\/consumer-tlc\/8192\/bank">/);
      expect(fs.existsSync(path.join(dir, 'rep', 'index.html'))).toBe(true);
      const finding = j.findings[0];
      const rep = cli('replay', finding.replayId, '--json', '--dump', path.join(dir, 'dump'));
      expect(rep.status).toBe(1);
      expect(JSON.parse(rep.stdout)).toMatchObject({ replayId: finding.replayId, verdict: finding.verdict, detail: finding.detail });
      expect(fs.readFileSync(path.join(dir, 'dump', 'diff.txt'), 'utf8')).toMatch(/LBA \d+/);
      expect(fs.statSync(path.join(dir, 'dump', 'crash-image.bin')).size).toBeGreaterThan(0);
      const ok = cli('run', '--mode', 'fpw', '--profile', 'consumer-tlc', '--txns', '100', '--crashes', '100', '--seed', '7');
      expect(ok.status).toBe(0);
      expect(ok.stdout).toMatch(/-> pass \(claims-safe\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    [['run', '--mode', 'atomic', '--profile', 'consumer-tlc'], /atomic mode refused on profile consumer-tlc: page size 8192 B/],
    [['run', '--mode', 'fpw', '--fault', 'gremlins'], /unknown fault "gremlins"/],
    [['run', '--mode', 'fpw', '--page-size', '3000'], /page size "3000" is not valid/],
    [['run', '--mode', 'fpw', '--workload', 'tpcc'], /workload "tpcc" is not valid/],
    [['run', '--mode', 'fpw', '--txns', 'many'], /--txns must be a non-negative integer/],
    [['replay', 'tl1.nope'], /is not a replay id/],
    [['campaign', '/nonexistent/c.yaml'], /cannot read campaign file/],
  ])('bad input %j exits 2 with a message', (args, msg) => {
    const r = cli(...(args as string[]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  test('campaign file: an unknown key exits 2 naming it; a small campaign writes a report', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-camp-'));
    try {
      fs.writeFileSync(path.join(dir, 'bad.yaml'), 'modes: [fpw]\nprofiles: [consumer-tlc]\npageSizes: [8192]\nworkloads: [bank]\nseeds: 4\n');
      const bad = cli('campaign', path.join(dir, 'bad.yaml'));
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/seeds: unknown key/);
      fs.writeFileSync(path.join(dir, 'c.yaml'), 'name: small\nmodes: [none, fpw]\nprofiles: [atomic-16k]\npageSizes: [8192]\nworkloads: [{name: bank, txns: 60}]\ncrashes: 50\nseed: 3\n');
      const ok = cli('campaign', path.join(dir, 'c.yaml'), '--out', path.join(dir, 'out'), '--junit', path.join(dir, 'j.xml'));
      expect(ok.status).toBe(0);
      const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8'));
      expect(report.cells.map((c: { id: string }) => c.id)).toEqual(['minipage/none/atomic-16k/8192/bank', 'minipage/fpw/atomic-16k/8192/bank']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
