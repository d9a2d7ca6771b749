/**
 * `tornlab pg --fs xfs --mkfs-option ...` on the real stack: the options reach
 * mkfs.xfs and the mount, the kernel reports them in force, and the replay id
 * names them. Skips (with a line naming what is missing) without root,
 * /dev/fuse, loop, mkfs.xfs or PostgreSQL.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { missingForPostgres } from '../../engines/postgres/runtime';
import { parsePgReplayId } from '../../engines/postgres/campaign';
import { missingForExport } from '../../src/export';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');
const missing = [...missingForExport('xfs'), ...missingForPostgres()];
const testPg = missing.length === 0 ? test : test.skip;
if (missing.length > 0) process.stdout.write(`SKIP test/postgres/fs-options (real PostgreSQL on xfs): missing ${missing.map((m) => m.what).join(', ')}\n`);

testPg('xfs with a 16 KiB stripe unit: in force on the mount and in the file system, named by the replay id', () => {
  const r = spawnSync(process.execPath, [CLI, 'pg', '--fpw', 'on', '--crashes', '1', '--load-ms', '500', '--fs', 'xfs', '--mkfs-option', '-d su=16k,sw=1', '--mount-option', 'logbsize=64k', '--json'], { encoding: 'utf8', timeout: 600_000 });
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
}, 600_000);

testPg('mkfs refusing an option is bad input (exit 2) naming it', () => {
  const r = spawnSync(process.execPath, [CLI, 'pg', '--fpw', 'on', '--crashes', '1', '--mkfs-option', '-O nosuchfeature'], { encoding: 'utf8', timeout: 300_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/mkfs\.ext4 refused the file-system options \(--mkfs-option "-O nosuchfeature".*nosuchfeature/);
}, 300_000);
