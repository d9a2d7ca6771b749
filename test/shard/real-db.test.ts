/**
 * Shards of real-database runs through the CLI: `tornlab exec` (no device:
 * always runs; its verify command's verdicts are a function of the cycle, so
 * the merged report's verdicts and findings must equal the unsharded run's)
 * and `tornlab pg` on a small PostgreSQL cell in N = 2 shards (skipped
 * without root, FUSE, loop devices and PostgreSQL 15). Bytes and times of a
 * real database are not under the seed, and neither are PostgreSQL's
 * verdicts; see the pg test.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { DEFAULT_CELL, pgReplayId } from '../../engines/postgres/config';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { missingForExport } from '../../src/export';
import { shardOf } from '../../src/crash/shard';
import type { Report } from '../../src/report/schema';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-shard-db-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const read = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as Report;
/** What the seed decides in a real-database report. */
const seedFields = (r: Report) => ({
  title: r.title,
  campaign: r.campaign,
  cells: r.cells.map((c) => ({ id: c.id, seed: c.seed, crashStatesTried: c.crashStatesTried, verdicts: c.verdicts, findings: c.findings, status: c.status, expectation: c.expectation })),
  cellsByStatus: r.totals.cellsByStatus,
});

test('exec: 3 shards merge into the unsharded run (cycles owned by id, cuts drawn for skipped cycles)', () => {
  // verify names a lost commit in every third cycle: the verdicts are a function of the cycle number.
  const args = (extra: string[]) => ['exec', '--no-device', '--mount', path.join(tmp, `db${extra.join('').replace(/\W/g, '')}`), '--crashes', '7', '--seed', '5', '--cut-after-acks', '3',
    '--start', 'true', '--load', 'for i in 1 2 3 4 5; do echo $i >> "$TORNLAB_ACK_FILE"; done', '--verify', 'test $((TORNLAB_CYCLE % 3)) -ne 0 || exit 12', ...extra];
  const whole = cli(args(['--out', path.join(tmp, 'exec-whole')]));
  expect(whole.status).toBe(1);
  const dirs = [1, 2, 3].map((k) => path.join(tmp, `exec-s${k}`));
  for (const [i, d] of dirs.entries()) expect([0, 1]).toContain(cli(args(['--shard', `${i + 1}/3`, '--out', d])).status);
  const m = cli(['report', 'merge', ...dirs, '--out', path.join(tmp, 'exec-merged')]);
  expect(m.stderr).toMatch(/merged 3 shards/);
  expect(m.status).toBe(1);
  const a = read(path.join(tmp, 'exec-whole'));
  expect(a.cells[0].verdicts['lost-commit']).toBe(3); // cycles 0, 3, 6
  expect(seedFields(read(path.join(tmp, 'exec-merged')))).toEqual(seedFields(a));
}, 300_000);

const missing = [...missingForExport('ext4'), ...missingForPostgres()];
const testPg = missing.length === 0 ? test : test.skip;
if (missing.length > 0) console.log(`SKIP test/shard PostgreSQL: missing ${missing.map((m) => m.what).join(', ')}`);

/**
 * PostgreSQL's verdicts are not under the seed (the kernel's writeback timing
 * decides what is in flight at the cut), so across runs only the plan is
 * compared: cells, cycle counts, expectations. The merged verdicts and
 * findings must be exactly the union of what the shards judged.
 */
const planFields = (r: Report) => ({
  title: r.title,
  campaign: r.campaign,
  cells: r.cells.map((c) => ({ id: c.id, seed: c.seed, crashStatesTried: c.crashStatesTried, expectation: c.expectation })),
});

testPg('pg: a small cell in 2 shards merges into the unsharded run', () => {
  // A seed whose 3 cycles fall into both shards.
  const seed = [1, 2, 3, 4, 5, 6, 7, 8].find((s) => new Set([0, 1, 2].map((c) => shardOf(pgReplayId({ ...DEFAULT_CELL, fpw: true, seed: s, crashes: 3 }, c), 2))).size === 2)!;
  const args = ['pg', '--fpw', 'on', '--crashes', '3', '--seed', String(seed), '--load-ms', '800'];
  const whole = cli([...args, '--out', path.join(tmp, 'pg-whole')]);
  expect({ status: whole.status, harness: /harness-error/.test(whole.stdout + whole.stderr) }).toEqual({ status: whole.status === 1 ? 1 : 0, harness: false });
  const dirs = [1, 2].map((k) => path.join(tmp, `pg-s${k}`));
  const shards = dirs.map((d, i) => {
    const r = cli([...args, '--shard', `${i + 1}/2`, '--out', d]);
    expect([0, 1]).toContain(r.status);
    return read(d).cells[0];
  });
  expect(shards.every((c) => c.crashStatesTried > 0 && c.crashStatesTried < 3)).toBe(true);
  const m = cli(['report', 'merge', ...dirs, '--out', path.join(tmp, 'pg-merged')]);
  const merged = read(path.join(tmp, 'pg-merged'));
  expect(planFields(merged)).toEqual(planFields(read(path.join(tmp, 'pg-whole'))));
  const c = merged.cells[0];
  for (const v of Object.keys(c.verdicts) as (keyof typeof c.verdicts)[]) expect(c.verdicts[v]).toBe(shards[0].verdicts[v] + shards[1].verdicts[v]);
  expect(c.findings.map((f) => f.replayId).sort()).toEqual(shards.flatMap((s) => s.findings.map((f) => f.replayId)).sort());
  // Exit as tornlab pg: 1 for any finding, else 0.
  expect(m.status).toBe(c.verdicts.ok === 3 ? 0 : 1);
}, 900_000);
