/**
 * `tornlab sqlite --write-shape DIR` (issue 13 item 2): every cycle's device
 * writes from the mount to the cut, read against the crash image's files —
 * JSON, Markdown and HTML, with the database file's pages accounted for.
 * Skips (with a line naming what is missing) without root, /dev/fuse, loop.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { missingForExport } from '../../src/export';
import type { WriteShapeRun } from '../../src/report/write-shape';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');
const missing = missingForExport('ext4');
const describeDevice = missing.length === 0 ? describe : describe.skip;
if (missing.length) process.stdout.write(`skipping sqlite write-shape tests: missing ${missing.map((m) => m.what).join(', ')}\n`);

function tornlab(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args]);
    let stderr = '';
    p.stdout.resume();
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-sqlite-shape-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describeDevice('tornlab sqlite --write-shape', () => {
  test('WAL + FULL, 16 KiB pages on atomic-16k: a report per run, bank.db pages accounted for', async () => {
    const dir = path.join(tmp, 'shape');
    const r = await tornlab(['sqlite', '--journal-mode', 'WAL', '--synchronous', 'FULL', '--page-size', '16384', '--profile', 'atomic-16k', '--crashes', '2', '--max-acks', '10', '--write-shape', dir]);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['write-shape.html', 'write-shape.json', 'write-shape.md']);
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'write-shape.json'), 'utf8')) as WriteShapeRun;
    expect(run.settings).toMatchObject({ profile: 'atomic-16k', 'page size': '16 KiB', journal_mode: 'WAL', synchronous: 'FULL' });
    expect(run.cycles.map((c) => c.replayId)).toEqual([0, 1].map((i) => `sqlite:journal=WAL sync=FULL page=16384:seed=1:cycle=${i}`));
    for (const c of run.cycles) {
      const [load] = c.phases;
      expect(load.phase).toBe('load');
      expect(load.commands).toBeGreaterThan(0);
      expect(load.syncs).toBeGreaterThan(0); // FULL syncs every commit
      expect(load.pageWrites).toBeGreaterThan(0); // checkpoints of the WAL write bank.db pages
      expect(load.one + load.merged + load.split).toBe(load.pageWrites);
      expect(load.protected + load.unprotected.split + load.unprotected['exceeds-unit'] + load.unprotected['crosses-boundary']).toBe(load.pageWrites);
      expect(Object.keys(load.byFile)).toContain('bank.db');
      expect(c.layout!.byFile['bank.db'].pages).toBeGreaterThan(0);
    }
    expect(fs.readFileSync(path.join(dir, 'write-shape.md'), 'utf8')).toMatch(/^# Write shape: SQLite journal=WAL sync=FULL page=16384 on atomic-16k \(ext4\)/);
    expect(fs.readFileSync(path.join(dir, 'write-shape.html'), 'utf8')).toMatch(/<svg/);
  }, 300_000);

  test('--write-shape with --no-device is refused (exit 2), nothing made', async () => {
    const dir = path.join(tmp, 'nodev');
    const r = await tornlab(['sqlite', '--no-device', '--crashes', '1', '--write-shape', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--write-shape traces the emulated device/);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
