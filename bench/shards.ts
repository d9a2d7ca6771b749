/**
 * Shards as local processes (issue 15, point 5):
 *   npm run bench:shards   (= npm run build && node dist/bench/shards.js [crashes] [rounds])
 *  1. the default campaign (controls included) at `crashes` states per cell,
 *     as N = 1, 2 and 4 `tornlab campaign --shard K/N --workers 1` processes
 *     started at the same time; wall time from the first start to the last
 *     exit, and the speed-up over N = 1 in the same run. Every shard plans
 *     every cell (a trace and a capture run of its workload), so the planning
 *     is paid N times; on 2 cores expect about 2x at most.
 *  2. `tornlab report merge` of 4 shards of a 100-cell campaign (4 modes x 5
 *     profiles x 5 workloads): read, check, merge, write report.json/md/html
 *     and JUnit; the median over `rounds`.
 * Each N's merged report is checked against N = 1's (apart from generatedAt).
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { DEFAULT_CAMPAIGN, runCampaign } from '../src/campaign/run-campaign';
import { expandCampaign, parseCampaign } from '../src/campaign/campaign-file';
import { closeWorkerPool } from '../src/campaign/run-cell';
import { makeShardFile, mergeShardFiles, readShardDir, writeShardFile } from '../src/campaign/shard-file';
import { renderJunit } from '../src/campaign/junit';
import { writeReportDir } from '../src/report/writer';
import { writeFileAtomic } from '../src/util/output';
import { TOOL_VERSION } from '../src/util/version';

const CLI = path.join(__dirname, '../src/cli/main.js');

function run(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 || code === 1 || code === 4 ? resolve(code) : reject(new Error(`tornlab ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

async function shardsAtOnce(file: string, n: number, dir: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, (_, i) => run(['campaign', file, '--shard', `${i + 1}/${n}`, '--workers', '1', '--out', path.join(dir, `n${n}`, `s${i + 1}`)])));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await run(['report', 'merge', ...Array.from({ length: n }, (_, i) => path.join(dir, `n${n}`, `s${i + 1}`)), '--out', path.join(dir, `n${n}`, 'merged')]);
  return s;
}

async function mergeTime(dir: string, rounds: number): Promise<{ cells: number; ms: number[] }> {
  const config = { name: 'merge-bench', engine: 'minipage', modes: ['none', 'doublewrite', 'fpw', 'atomic'], profiles: ['consumer-tlc', 'qemu-default', 'atomic-16k', 'azure-atomic-16k', 'enterprise-plp'], pageSizes: [8192], workloads: ['bank', 'ycsb-a', 'tpcc-like', 'kv-uniform', 'kv-zipf'].map((name) => ({ name, txns: 40 })), keys: 200, frames: 16, crashes: 40, seed: 1, forceAtomic: true };
  const parsed = parseCampaign(JSON.stringify(config), 'merge-bench.json');
  const cells = expandCampaign(parsed);
  const dirs: string[] = [];
  for (let k = 1; k <= 4; k++) {
    const shard = { index: k, count: 4 };
    const r = await runCampaign(cells, parsed as unknown as Record<string, unknown>, { workers: 2, shard });
    const d = path.join(dir, 'merge', `s${k}`);
    writeReportDir(d, r.report);
    writeShardFile(d, makeShardFile({ toolVersion: TOOL_VERSION, command: 'campaign', campaign: parsed as unknown as Record<string, unknown>, seed: 1, shard, title: r.report.title, generatedAt: r.report.generatedAt, parts: r.outcomes.map((o) => o.part) }));
    dirs.push(d);
  }
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    // What `tornlab report merge` does, in process (no Node start-up in the figure).
    const merged = mergeShardFiles(dirs.map((d) => ({ dir: d, file: readShardDir(d) })));
    const out = path.join(dir, 'merge', 'merged');
    writeReportDir(out, merged);
    writeFileAtomic(path.join(out, 'junit.xml'), renderJunit(merged));
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { cells: cells.length, ms };
}

async function main(): Promise<void> {
  const crashes = Number(process.argv[2] ?? 150);
  const rounds = Number(process.argv[3] ?? 7);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-bench-shards-'));
  try {
    const file = path.join(dir, 'campaign.json');
    fs.writeFileSync(file, JSON.stringify({ ...DEFAULT_CAMPAIGN, costTxns: undefined, crashes }));
    console.log(`default campaign, ${crashes} crash states per cell, controls included; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}`);
    const wall: Record<number, number> = {};
    for (const n of [1, 2, 4]) {
      wall[n] = await shardsAtOnce(file, n, dir);
      console.log(`N = ${n}: ${wall[n].toFixed(1)} s wall = ${(wall[1] / wall[n]).toFixed(2)}x N = 1 (load average ${os.loadavg()[0].toFixed(1)})`);
    }
    const strip = (n: number) => fs.readFileSync(path.join(dir, `n${n}`, 'merged', 'report.json'), 'utf8').replace(/"generatedAt": "[^"]+"/, '');
    for (const n of [2, 4]) if (strip(n) !== strip(1)) throw new Error(`the merged report of N = ${n} differs from N = 1's`);
    console.log('merged reports of N = 2 and 4: identical to N = 1 (apart from generatedAt)');
    const m = await mergeTime(dir, rounds);
    const sorted = [...m.ms].sort((a, b) => a - b);
    console.log(`report merge of 4 shards, ${m.cells} cells: median ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms (min ${sorted[0].toFixed(0)}, max ${sorted[sorted.length - 1].toFixed(0)}, ${rounds} rounds)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await closeWorkerPool();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
