/** src/export/fs-options.ts and the --fs/--mkfs-option/--mount-option flags: validation, replay ids, what is in force. No kernel needed. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { DEFAULT_FS_CHOICE, describeFsChoice, fsOptionsTag, mountOptionsOf, parseFsOptionsTag, splitMkfsOptions, validateFsChoice } from '../../src/export/fs-options';
import { DEFAULT_CELL, pgReplayId } from '../../engines/postgres/config';
import { parsePgReplayId } from '../../engines/postgres/config';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');

test('the default choice has no replay tag; options round-trip through it', () => {
  expect(fsOptionsTag(DEFAULT_FS_CHOICE)).toBe('');
  const c = { fs: 'ext4' as const, mkfsOptions: splitMkfsOptions(['-O bigalloc  -C 16384']), mountOptions: ['dioread_nolock'] };
  expect(c.mkfsOptions).toEqual(['-O', 'bigalloc', '-C', '16384']);
  expect(parseFsOptionsTag(fsOptionsTag(c), 'x')).toEqual({ mkfsOptions: c.mkfsOptions, mountOptions: c.mountOptions });
  expect(() => parseFsOptionsTag('~bm90LWpzb24', 'pg:x')).toThrow(/do not decode/);
  expect(describeFsChoice(c)).toBe('ext4, mkfs -O bigalloc -C 16384, mount noatime,dioread_nolock');
});

test('pg replay ids: old ids parse unchanged, a non-default file system is named and read back', () => {
  const old = 'pg:consumer-tlc:fpw=off:checkpoint:seed=3:cycle=1';
  const p = parsePgReplayId(old);
  expect(p.cfg.fs).toBe('ext4');
  expect(p.cfg.mkfsOptions ?? []).toEqual([]);
  expect(pgReplayId(p.cfg, p.cycle)).toBe(old);
  const cfg = { ...DEFAULT_CELL, fpw: false, seed: 3, crashes: 2, fs: 'xfs' as const, mkfsOptions: ['-d', 'su=16k,sw=1'], mountOptions: ['logbsize=256k'] };
  const id = pgReplayId(cfg, 1);
  expect(id).toMatch(/^pg:consumer-tlc:fpw=off:checkpoint:xfs~[A-Za-z0-9_-]+:seed=3:cycle=1$/);
  const q = parsePgReplayId(id);
  expect(q.cfg).toMatchObject({ fs: 'xfs', mkfsOptions: cfg.mkfsOptions, mountOptions: cfg.mountOptions });
  expect(pgReplayId(q.cfg, q.cycle)).toBe(id);
  expect(pgReplayId({ ...cfg, mkfsOptions: [], mountOptions: [] }, 0)).toBe('pg:consumer-tlc:fpw=off:checkpoint:xfs:seed=3:cycle=0');
  expect(() => parsePgReplayId('pg:consumer-tlc:fpw=off:checkpoint:zfs:seed=3:cycle=1')).toThrow(/not a PostgreSQL replay id/);
});

test('bad choices are refused with the fix', () => {
  expect(() => validateFsChoice({ ...DEFAULT_FS_CHOICE, fs: 'zfs' as never })).toThrow(/--fs must be ext4 or xfs/);
  expect(() => validateFsChoice({ ...DEFAULT_FS_CHOICE, mountOptions: ['a b'] })).toThrow(/one per flag/);
  expect(() => validateFsChoice({ ...DEFAULT_FS_CHOICE, mkfsOptions: [''] })).toThrow(/is not an argument/);
});

test('mountinfo: the per-mount and the super options of one mount point', () => {
  const info = [
    '36 35 98:0 / /mnt1 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
    '40 35 7:3 / /run/tornlab/fs-1 rw,noatime - xfs /dev/loop3 rw,attr2,inode64,logbufs=8,logbsize=256k,sunit=32,swidth=32,noquota',
  ].join('\n');
  expect(mountOptionsOf('/run/tornlab/fs-1', info)).toBe('rw,noatime rw,attr2,inode64,logbufs=8,logbsize=256k,sunit=32,swidth=32,noquota');
  expect(mountOptionsOf('/nowhere', info)).toBe('');
});

test.each([
  [['pg', '--fpw', 'on', '--fs', 'zfs'], /--fs must be ext4 or xfs/],
  [['pg', '--fpw', 'on', '--mount-option', 'a,b c'], /is not a mount option/],
  [['pg', '--fpw', 'on', '--crash-at', 'seeded', '--write-shape', '/tmp/tornlab-never-made'], /--write-shape .*--crash-at checkpoint/],
  [['sqlite', '--fs', 'btrfs'], /--fs must be ext4 or xfs/],
  [['sqlite', '--no-device', '--fs', 'xfs'], /--fs.*with --no-device/],
  [['exec', '--mount', '/tmp/none', '--start', 'true', '--load', 'true', '--verify', 'true', '--mount-option', 'x y'], /is not a mount option/],
])('tornlab %j exits 2 naming the fix', (args, message) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(message);
});
