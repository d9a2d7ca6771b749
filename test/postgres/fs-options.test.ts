/**
 * `tornlab pg --fs xfs --mkfs-option ...` on the real stack: the options reach
 * mkfs.xfs and the mount, the kernel reports them in force, and the replay id
 * names them. Skips (with a line naming what is missing) without root,
 * /dev/fuse, loop, mkfs.xfs or PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { parsePgReplayId } from '../../engines/postgres/config';
import { missingForExport } from '../../src/export';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');
const missing = [...missingForExport('xfs'), ...missingForPostgres()];
const testPg = missing.length === 0 ? test : test.skip;
if (missing.length > 0) process.stdout.write(`SKIP test/postgres/fs-options (real PostgreSQL on xfs): missing ${missing.map((m) => m.what).join(', ')}\n`);

testPg('xfs with a 16 KiB stripe unit: in force on the mount and in the file system, named by the replay id; the write shape of its CHECKPOINT', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-pg-ws-'));
  const r = spawnSync(process.execPath, [CLI, 'pg', '--fpw', 'on', '--crashes', '1', '--load-ms', '500', '--fs', 'xfs', '--mkfs-option', '-d su=16k,sw=1', '--mount-option', 'logbsize=64k', '--write-shape', dir, '--json'], { encoding: 'utf8', timeout: 600_000 });
  expect(r.stderr).not.toMatch(/tornlab:/);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout) as { config: { fs: string; mkfsOptions: string[] }; cycles: { replayId: string; verdict: string; fsInForce: { fs: string; mount: string; format: string } }[] };
  const c = out.cycles[0];
  expect(c.verdict).toBe('ok');
  // The stripe unit as the file system has it (4 blocks of 4 KiB) and as the mount reports it (32 sectors of 512 bytes).
  expect(c.fsInForce.fs).toBe('xfs');
  expect(c.fsInForce.format).toMatch(/\bbsize=4096 sunit=4 swidth=4\b/);
  expect(c.fsInForce.mount).toMatch(/\bsunit=32,swidth=32\b/);
  expect(c.fsInForce.mount).toMatch(/\blogbsize=64k\b/);
  expect(c.fsInForce.mount).toMatch(/\bnoatime\b/);
  const back = parsePgReplayId(c.replayId).cfg;
  expect(back).toMatchObject({ fs: 'xfs', mkfsOptions: ['-d', 'su=16k,sw=1'], mountOptions: ['logbsize=64k'] });
  // The write shape: the load's WAL and the checkpoint's 8 KiB relation pages, accounted once each (write-shape.ts invariants 1, 2).
  for (const f of ['write-shape.json', 'write-shape.md', 'write-shape.html']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
  type Phase = { phase: string; commands: number; bytes: number; pageWrites: number; one: number; merged: number; split: number; protected: number; unprotected: Record<string, number>; byFile: Record<string, { commands: number; bytes: number; pageWrites: number }>; other: { commands: number; bytes: number } };
  const ws = JSON.parse(fs.readFileSync(path.join(dir, 'write-shape.json'), 'utf8')) as { settings: Record<string, string>; cycles: { phases: Phase[] }[] };
  expect(ws.settings).toMatchObject({ 'file system': 'xfs', 'mkfs options': '-d su=16k,sw=1', 'mount options': 'noatime,logbsize=64k', 'page size': '8 KiB' });
  const phases = ws.cycles[0].phases;
  expect(phases.map((p) => p.phase)).toEqual(['load', 'checkpoint']);
  const ck = phases[1];
  // Where the cut fell in the writeback varies with the kernel's timing: the checks hold for any count, and bytes in a relation file are page writes.
  for (const [f, x] of Object.entries(ck.byFile)) if (/^pgdata\/(base\/\d+|global)\/\d+/.test(f) && x.bytes > 0) expect(x.pageWrites).toBeGreaterThan(0);
  expect(ck.one + ck.merged + ck.split).toBe(ck.pageWrites);
  expect(ck.protected + Object.values(ck.unprotected).reduce((a, b) => a + b, 0)).toBe(ck.pageWrites);
  // The file map was taken before the checkpoint: the bank table's relation file is in the layout.
  const layout = (ws.cycles[0] as unknown as { layout: { pages: number; byFile: Record<string, { pages: number }> } }).layout;
  expect(layout.pages).toBeGreaterThan(1000);
  expect(Object.keys(layout.byFile).some((f) => /^pgdata\/base\/\d+\/\d+$/.test(f) && layout.byFile[f].pages > 100)).toBe(true);
  expect(Object.values(ck.byFile).reduce((a, f) => a + f.bytes, ck.other.bytes)).toBe(ck.bytes);
  expect(Object.keys(phases[0].byFile).some((f) => /pg_wal\/[0-9A-F]{24}$/.test(f))).toBe(true);
  fs.rmSync(dir, { recursive: true, force: true });
}, 600_000);

testPg('mkfs refusing an option is bad input (exit 2) naming it', () => {
  const r = spawnSync(process.execPath, [CLI, 'pg', '--fpw', 'on', '--crashes', '1', '--mkfs-option', '-O nosuchfeature'], { encoding: 'utf8', timeout: 300_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/mkfs\.ext4 refused the file-system options \(--mkfs-option "-O nosuchfeature".*nosuchfeature/);
}, 300_000);
