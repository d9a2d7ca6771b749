/**
 * `tornlab exec --write-shape DIR [--write-shape-page-size SIZE]` (issue 13
 * item 2), on the InnoDB-order example: the device writes of every cycle read
 * as 16 KiB pages of the files the crash image holds; its data file's pages
 * are placed off the 16 KiB boundary on default ext4 (the example writes it
 * first, after the redo file's first block). Bad combinations exit 2.
 * Skips (with a line naming what is missing) without root, /dev/fuse, loop.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { missingForExport } from '../../src/export';
import type { WriteShapeRun } from '../../src/report/write-shape';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const ORDER = path.join(ROOT, 'engines/exec/examples/innodb-order/order.js');
const missing = missingForExport('ext4');
const describeDevice = missing.length === 0 ? describe : describe.skip;
if (missing.length) process.stdout.write(`skipping exec write-shape tests: missing ${missing.map((m) => m.what).join(', ')}\n`);

function tornlab(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args]);
    let stderr = '';
    p.stdout.resume();
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stderr }));
  });
}

const example = (mount: string) => ['exec', '--mount', mount, '--start', `${ORDER} start`, '--load', `${ORDER} load`, '--verify', `${ORDER} verify`];
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-exec-shape-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describeDevice('tornlab exec --write-shape', () => {
  test('the InnoDB-order example on atomic-16k: 16 KiB page writes of data and redo, classified', async () => {
    const dir = path.join(tmp, 'shape');
    const r = await tornlab([...example(path.join(tmp, 'db')), '--profile', 'atomic-16k', '--crashes', '2', '--cut-after-acks', '20', '--write-shape', dir, '--write-shape-page-size', '16k']);
    // The example has no doublewrite and its data pages sit off the 16 KiB boundary, so a cut
    // that catches a page write in flight may tear it: a true finding (exit 1), which timing
    // decides. Either way the write shape must be whole, and a finding needs split page writes.
    expect([0, 1]).toContain(r.code);
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'write-shape.json'), 'utf8')) as WriteShapeRun;
    if (r.code === 1) expect(run.cycles.reduce((n, c) => n + c.phases[0].split, 0)).toBeGreaterThan(0);
    expect(run.settings['page size']).toBe('16 KiB (--write-shape-page-size)');
    expect(run.cycles.map((c) => c.replayId)).toEqual(['exec:seed=1:cycle=0', 'exec:seed=1:cycle=1']);
    for (const c of run.cycles) {
      const [load] = c.phases;
      expect(load.pageWrites).toBeGreaterThan(0);
      expect(load.one + load.merged + load.split).toBe(load.pageWrites);
      expect(Object.keys(load.byFile).sort()).toEqual(['data', 'redo']);
      expect(c.layout!.byFile['data'].pages).toBe(32); // 32 pages of 16 KiB, all mapped
      expect(load.syncs).toBeGreaterThan(0); // every commit fdatasyncs the redo file
    }
    expect(fs.readFileSync(path.join(dir, 'write-shape.md'), 'utf8')).toMatch(/^# Write shape: tornlab exec on atomic-16k \(ext4\)/);
  }, 300_000);

  test('without a page size: command sizes and syncs only, no page writes', async () => {
    const dir = path.join(tmp, 'nopages');
    const r = await tornlab([...example(path.join(tmp, 'db2')), '--profile', 'enterprise-plp', '--crashes', '1', '--cut-after-acks', '10', '--write-shape', dir]);
    expect(r.code).toBe(0);
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'write-shape.json'), 'utf8')) as WriteShapeRun;
    const [load] = run.cycles[0].phases;
    expect(load.commands).toBeGreaterThan(0);
    expect(load.syncs).toBeGreaterThan(0);
    expect(load.pageWrites).toBe(0);
  }, 300_000);

  test('bad combinations exit 2 before anything is mounted', async () => {
    const noShape = await tornlab([...example(path.join(tmp, 'x')), '--write-shape-page-size', '16k']);
    expect(noShape.code).toBe(2);
    expect(noShape.stderr).toMatch(/--write-shape-page-size does nothing without --write-shape/);
    const badSize = await tornlab([...example(path.join(tmp, 'x')), '--write-shape', path.join(tmp, 's'), '--write-shape-page-size', '3k']);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toMatch(/--write-shape-page-size must be a power of two/);
    const noDevice = await tornlab([...example(path.join(tmp, 'x')), '--no-device', '--write-shape', path.join(tmp, 'nd')]);
    expect(noDevice.code).toBe(2);
    expect(fs.existsSync(path.join(tmp, 'nd'))).toBe(false);
  });
});
