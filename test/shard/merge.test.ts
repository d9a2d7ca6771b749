/**
 * Shards (src/crash/shard.ts) and their merge (src/campaign/shard-file.ts):
 * the merged report of shards 1..N is, apart from its timestamp, the report
 * of the same campaign run unsharded — byte for byte, for N = 1, 3 and 7 — and
 * a merge refuses shards that do not make up one run.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { expandCampaign, parseCampaign } from '../../src/campaign/campaign-file';
import { runCampaign } from '../../src/campaign/run-campaign';
import { closeWorkerPool } from '../../src/campaign/run-cell';
import { makeShardFile, mergeShardFiles, ShardFile } from '../../src/campaign/shard-file';
import { renderJunit } from '../../src/campaign/junit';
import { fingerprint, addFingerprints, owns, parseShard, shardOf } from '../../src/crash/shard';
import { renderReportFiles } from '../../src/report/writer';
import type { Report } from '../../src/report/schema';
import { TOOL_VERSION } from '../../src/util/version';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const cli = (args: string[], cwd?: string) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd });
const AT = '2026-12-01T00:00:00.000Z';

/** Small, but with every kind of cell: a demonstration, safe cells with crash windows, positive controls. */
const CAMPAIGN = {
  name: 'shard-test',
  engine: 'minipage',
  modes: ['none', 'doublewrite', 'fpw'],
  profiles: ['consumer-tlc'],
  pageSizes: [8192],
  workloads: [{ name: 'bank', txns: 40 }],
  keys: 200,
  frames: 16,
  checkpointEvery: 15,
  checkpointBatch: 8,
  crashes: 40,
  seed: 7,
  controls: true,
};

afterAll(() => closeWorkerPool());

const files = (r: Report): Record<string, string> => ({ ...renderReportFiles(r), 'junit.xml': renderJunit(r) });

async function runShard(config: typeof CAMPAIGN, shard?: { index: number; count: number }): Promise<{ report: Report; file?: ShardFile }> {
  const parsed = parseCampaign(JSON.stringify(config), 'shard-test.json');
  const run = await runCampaign(expandCampaign(parsed), parsed as unknown as Record<string, unknown>, { workers: 1, generatedAt: AT, shard });
  if (!shard) return { report: run.report };
  const file = makeShardFile({ toolVersion: TOOL_VERSION, command: 'campaign', campaign: parsed as unknown as Record<string, unknown>, seed: config.seed, shard, title: run.report.title, generatedAt: AT, parts: run.outcomes.map((o) => o.part) });
  return { report: run.report, file: JSON.parse(JSON.stringify(file)) as ShardFile };
}

describe('--shard K/N', () => {
  test('K/N parses; 0/3, 4/3 and a/b are refused with the form to write', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(() => parseShard('0/3')).toThrow(/K counts from 1/);
    expect(() => parseShard('4/3')).toThrow(/K is greater than N/);
    expect(() => parseShard('a/b')).toThrow(/is not K\/N/);
    expect(() => parseShard('1/0')).toThrow(/N must be from 1/);
  });

  test('every id has exactly one owner; the owned fingerprints add up to the whole', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `tl1.minipage.none.consumer-tlc.8192.bank.40.7.p${i}.s0`);
    for (const n of [1, 2, 3, 7]) {
      const shares = Array.from({ length: n }, (_, k) => ids.filter((id) => owns({ index: k + 1, count: n }, id)));
      expect(shares.reduce((a, s) => a + s.length, 0)).toBe(ids.length);
      for (const id of ids.slice(0, 50)) expect(shares.filter((s) => s.includes(id))).toHaveLength(1);
      expect(addFingerprints(shares.map((s) => fingerprint(s)))).toBe(fingerprint(ids));
      // Roughly even: no share under half its fair size.
      for (const s of shares) expect(s.length).toBeGreaterThan(ids.length / n / 2);
    }
    expect(fingerprint(ids.slice(1))).not.toBe(fingerprint(ids));
    expect(shardOf(ids[0], 7)).toBe(shardOf(ids[0], 7));
  });
});

describe('report merge', () => {
  let whole: Report;
  const shardsOf: Record<number, ShardFile[]> = {};
  beforeAll(async () => {
    whole = (await runShard(CAMPAIGN)).report;
    for (const n of [1, 3, 7]) {
      shardsOf[n] = [];
      for (let k = 1; k <= n; k++) shardsOf[n].push((await runShard(CAMPAIGN, { index: k, count: n })).file!);
    }
  }, 600_000);

  test.each([1, 3, 7])('N = %i: the merged report is the unsharded one, byte for byte (json, md, html, JUnit)', (n) => {
    // The campaign must show what sharding could get wrong: controls, windows, findings in several shards.
    expect(whole.cells.some((c) => c.control?.caught)).toBe(true);
    expect(whole.cells.some((c) => (c.coverage ?? []).some((w) => Object.keys(w.nonOk).length > 1))).toBe(true);
    expect(whole.totals.findings).toBeGreaterThan(n);
    const merged = mergeShardFiles(shardsOf[n].map((file, i) => ({ dir: `s${i + 1}`, file })).reverse());
    const a = files(whole);
    const b = files(merged);
    for (const f of Object.keys(a)) expect(b[f] === a[f]).toBe(true);
    if (n > 1) {
      // Each shard judged a share only, and the shares differ.
      const counts = shardsOf[n].map((f) => f.parts.reduce((x, p) => x + p.owned, 0));
      expect(Math.max(...counts)).toBeLessThan(whole.totals.crashStatesTried);
    }
  });

  const three = () => shardsOf[3].map((file, i) => ({ dir: `s${i + 1}`, file: JSON.parse(JSON.stringify(file)) as ShardFile }));

  test('refuses a gap and an overlap, naming the shards', () => {
    const s = three();
    expect(() => mergeShardFiles([s[0], s[2]])).toThrow(/gap: shard 2\/3 missing/);
    expect(() => mergeShardFiles([s[0], s[1], s[1], s[2]])).toThrow(/overlap: shard 2\/3 is given 2 times \(s2, s2\)/);
    expect(() => mergeShardFiles([s[0], s[1], { ...s[2], file: shardsOf[7][2] }])).toThrow(/one of 7 shards/);
    // A shard that judged a state of another (its share altered): the cell's cover does not add up.
    const tampered = three();
    tampered[1].file.parts[0].owned += 1;
    expect(() => mergeShardFiles(tampered)).toThrow(new RegExp(`cell ${tampered[1].file.parts[0].id.replace(/[/%]/g, '.')}: the shards own \\d+ of its \\d+ planned items \\(overlap`));
  });

  test('refuses shards of different seeds, tornlab versions or campaigns', async () => {
    const s = three();
    const other = (await runShard({ ...CAMPAIGN, seed: 8 }, { index: 2, count: 3 })).file!;
    expect(() => mergeShardFiles([s[0], { dir: 'x', file: other }, s[2]])).toThrow(/x \(shard 2\/3\) ran seed 8, s1 \(shard 1\/3\) seed 7/);
    const v = three();
    v[2].file.tool.version = '9.9.9';
    expect(() => mergeShardFiles(v)).toThrow(/s3 \(shard 3\/3\) was run by tornlab 9.9.9/);
    const c = three();
    const changed = makeShardFile({ ...c[1].file, toolVersion: TOOL_VERSION, seed: 7, campaign: { ...c[1].file.campaign, crashes: 41 } });
    expect(() => mergeShardFiles([c[0], { dir: 'y', file: changed }, c[2]])).toThrow(/y \(shard 2\/3\) ran another campaign than s1/);
  });
});

describe('the CLI', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-shard-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const run = ['run', '--mode', 'none', '--profile', 'consumer-tlc', '--txns', '60', '--keys', '300', '--frames', '16', '--checkpoint-every', '20', '--checkpoint-batch', '8', '--crashes', '60', '--seed', '7', '--workers', '1'];

  const refused = (args: string[]) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--shard ".*": .*write --shard K\/N|--shard ".*" is not K\/N/);
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
    expect(fs.existsSync(path.join(tmp, 'bad-mount'))).toBe(false);
  };
  const out = (v: string) => ['--shard', v, '--out', path.join(tmp, 'bad')];

  test.each(['0/3', '4/3', 'a/b'])('--shard %s is bad input (exit 2, a clear message, nothing written)', (v) => refused([...run, ...out(v)]));

  test('campaign, pg, sqlite and exec refuse a bad --shard before any work', () => {
    refused(['campaign', '--default', ...out('4/3')]);
    refused(['pg', '--fpw', 'on', ...out('0/3')]);
    refused(['sqlite', ...out('a/b')]);
    refused(['exec', '--no-device', '--mount', path.join(tmp, 'bad-mount'), '--start', 'true', '--load', 'true', '--verify', 'true', ...out('3/2')]);
  }, 120_000);

  test('a run cell in 2 shards merges into the unsharded report and exit status', () => {
    const whole = cli([...run, '--out', path.join(tmp, 'whole'), '--json']);
    expect(whole.status).toBe(1); // none on consumer-tlc: torn pages found
    const noOut = cli([...run, '--shard', '1/2']);
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toMatch(/--shard 1\/2 needs --out DIR/);
    for (const k of [1, 2]) expect([0, 1]).toContain(cli([...run, '--shard', `${k}/2`, '--out', path.join(tmp, `s${k}`)]).status);
    const m = cli(['report', 'merge', path.join(tmp, 's1'), path.join(tmp, 's2'), '--out', path.join(tmp, 'merged')]);
    expect(m.stderr).toMatch(/merged 2 shards/);
    expect(m.status).toBe(1);
    const strip = (f: string) => fs.readFileSync(f, 'utf8').replace(/"generatedAt": "[^"]+"/, '').replace(/generated [0-9TZ:.-]+/g, '');
    expect(strip(path.join(tmp, 'merged/report.json'))).toBe(strip(path.join(tmp, 'whole/report.json')));
    expect(fs.existsSync(path.join(tmp, 'merged/junit.xml'))).toBe(true);
    const gap = cli(['report', 'merge', path.join(tmp, 's1'), '--out', path.join(tmp, 'gap')]);
    expect(gap.status).toBe(2);
    expect(gap.stderr).toMatch(/gap: shard 2\/2 missing/);
    const into = cli(['report', 'merge', path.join(tmp, 's1'), path.join(tmp, 's2'), '--out', path.join(tmp, 's2')]);
    expect(into.status).toBe(2);
    expect(into.stderr).toMatch(/is one of the shard folders/);
    const notShard = cli(['report', 'merge', path.join(tmp, 'whole'), '--out', path.join(tmp, 'x')]);
    expect(notShard.status).toBe(2);
    expect(notShard.stderr).toMatch(/shard\.json is missing/);
  }, 300_000);
});
