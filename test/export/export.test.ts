/**
 * Block export through FUSE on the real kernel: a file written and fsynced
 * on a mounted ext4 arrives as device writes and Flushes, reads back after a
 * remount of the device's media, and teardown — after a clean run and after
 * a power cut with a writer still running — leaves no mount, loop device or
 * process behind. Bad input leaves nothing either.
 *
 * Needs root, /dev/fuse, a free loop device, libfuse2 and mkfs.ext4; without
 * them the tests are skipped with a line naming what is missing.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockStack, HostedDevice, cutAndRelease, remountCrashImage, missingForExport, run, RUNTIME_ROOT, runLedger, RUN_ENV, survivorsFrom } from '../../src/export';
import { cleanupLeftovers, currentMounts, listLeftovers, loopDevices } from '../../src/export/doctor';
import { killTree, markedProcesses, waitGone } from '../../src/export/processes';
import { Prng } from '../../src/util/prng';

const missing = missingForExport('ext4');
const describeKernel = missing.length === 0 ? describe : describe.skip;
if (missing.length > 0) {
  // eslint-disable-next-line no-console
  console.log(`SKIP test/export (block export): missing ${missing.map((m) => m.what).join(', ')}`);
}

const NSZE = 65536; // 256 MiB of 4 KiB blocks

/** Mounts, loop devices and processes of this run still present. */
function leftoversOfThisRun(): string[] {
  const l = runLedger();
  const out: string[] = [];
  for (const m of currentMounts()) if (m.mountPoint.startsWith(l.dir + '/') || m.mountPoint.startsWith(l.plainDir + '/')) out.push(`mount ${m.mountPoint}`);
  for (const lo of loopDevices()) if (lo.backingFile.startsWith(l.dir + '/') || lo.backingFile.startsWith(l.plainDir + '/')) out.push(`loop ${lo.dev}`);
  for (const p of markedProcesses(l.runId)) out.push(`process ${p.pid}`);
  // The device host is the run's own, alive while the run is.
  for (const r of l.resources) if (r.kind !== 'dir' && !(r.kind === 'process' && r.note === 'device host')) out.push(`ledger ${r.kind} ${r.id}`);
  return out;
}

describeKernel('block export (FUSE -> loop -> ext4)', () => {
  jest.setTimeout(120_000);

  test('writes that are not block aligned are completed by read-modify-write; fsync is a device Flush', async () => {
    const dev = await HostedDevice.create({ profile: 'consumer-tlc', seed: 31, nsze: 1024 });
    const base = new Uint8Array(4096 * 3).fill(0xaa);
    await dev.write(10, base);
    const dir = runLedger().newPath('fuse-raw');
    const f = await dev.export(dir, 'other');
    try {
      const src = path.join(runLedger().dir, 'patch.bin');
      fs.writeFileSync(src, Buffer.alloc(3000, 0x55));
      const flushes = (await dev.counters()).flushes;
      // 3000 bytes at byte 10*4096 + 1000: inside block 10 only; then 5000 bytes straddling blocks 11-12.
      const r1 = await run('dd', [`if=${src}`, `of=${f.filePath}`, 'bs=3000', 'count=1', `seek=${10 * 4096 + 1000}`, 'oflag=seek_bytes', 'conv=notrunc,fsync']);
      expect(r1.code).toBe(0);
      fs.writeFileSync(src, Buffer.alloc(5000, 0x66));
      const r2 = await run('dd', [`if=${src}`, `of=${f.filePath}`, 'bs=5000', 'count=1', `seek=${11 * 4096 + 3000}`, 'oflag=seek_bytes', 'conv=notrunc']);
      expect(r2.code).toBe(0);
      fs.rmSync(src);
      expect((await f.stats()).partialWrites).toBeGreaterThanOrEqual(2);
      expect((await dev.counters()).flushes).toBeGreaterThan(flushes);
      const got = await dev.read(10, 3);
      const want = new Uint8Array(4096 * 3).fill(0xaa);
      want.fill(0x55, 1000, 4000);
      want.fill(0x66, 4096 + 3000, 4096 + 8000);
      expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      // And the kernel reads back what the device holds.
      const back = await run('sh', ['-c', `dd if=${f.filePath} bs=4096 skip=10 count=3 2>/dev/null | sha256sum`]);
      expect(back.stdout.split(' ')[0]).toBe(crypto.createHash('sha256').update(want).digest('hex'));
    } finally {
      await f.unmount();
      fs.rmdirSync(dir);
      await dev.dispose();
    }
  });

  test('a file written with fsync lands as device writes and Flushes and reads back after a remount', async () => {
    const dev = await HostedDevice.create({ profile: 'consumer-tlc', seed: 11, nsze: NSZE });
    const stack = await BlockStack.mountDevice(dev, { format: true });
    const data = Buffer.alloc(3 * 1024 * 1024 + 1234);
    const prng = new Prng(5, 'export-test');
    for (let i = 0; i < data.length; i++) data[i] = prng.int(0, 255);
    const digest = crypto.createHash('sha256').update(data).digest('hex');
    try {
      const c0 = await dev.counters();
      const before = { bytes: c0.byTag.other.bytes, flushes: c0.flushes };
      // The FUSE server lives in the device host, but the writer is a child process all the same.
      const src = path.join(runLedger().dir, 'payload.bin');
      fs.writeFileSync(src, data);
      const r = await run('dd', [`if=${src}`, `of=${stack.mountPoint}/payload.bin`, 'bs=64k', 'conv=fsync'], { timeoutMs: 60_000 });
      expect(r.code).toBe(0);
      fs.rmSync(src);
      const c1 = await dev.counters();
      expect(c1.byTag.other.bytes - before.bytes).toBeGreaterThanOrEqual(data.length);
      expect(c1.flushes - before.flushes).toBeGreaterThanOrEqual(1);
      expect((await stack.fuse!.stats()).syncRequests).toBeGreaterThanOrEqual(1);
    } finally {
      await stack.release();
    }
    expect(leftoversOfThisRun()).toEqual([]);
    // Everything ext4 wrote is on media after a Flush; a new device powered on from it sees the file.
    const image = await dev.snapshot();
    await dev.dispose();
    const dev2 = await HostedDevice.create({ profile: 'consumer-tlc', seed: 12, nsze: NSZE, image: image.id });
    const again = await BlockStack.mountDevice(dev2, { fsck: true });
    try {
      expect(again.fsck!.code).toBe(0);
      const back = await run('sha256sum', [`${again.mountPoint}/payload.bin`]);
      expect(back.stdout.split(' ')[0]).toBe(digest);
    } finally {
      await again.release();
      await dev2.dispose();
      await image.dispose();
    }
    expect(leftoversOfThisRun()).toEqual([]);
  });

  test('a power cut under a running writer: held requests are failed after the kill, nothing is left, the crash image mounts', async () => {
    const dev = await HostedDevice.create({ profile: 'consumer-tlc', seed: 21, nsze: NSZE });
    const stack = await BlockStack.mountDevice(dev, { format: true });
    // A writer that keeps writing and fsyncing until killed, marked like every process of a run.
    const writer = spawn('sh', ['-c', `i=0; while true; do dd if=/dev/zero of=${stack.mountPoint}/f$i bs=64k count=4 conv=fsync 2>/dev/null; i=$((i+1)); done`], {
      env: { ...process.env, [RUN_ENV]: runLedger().runId },
      stdio: 'ignore',
      detached: true,
    });
    const cut = stack.armCut({ afterWrites: 40 });
    await cut;
    expect(stack.fuse!.isCut).toBe(true);
    const { heldRequests } = await cutAndRelease(stack, async () => {
      const victims = killTree(writer.pid!, runLedger().runId);
      expect(victims.length).toBeGreaterThanOrEqual(1);
    });
    expect(heldRequests).toBeGreaterThanOrEqual(0);
    expect(await waitGone([writer.pid!], 10_000)).toEqual([]);
    expect(leftoversOfThisRun()).toEqual([]);
    const rec = await remountCrashImage(dev, survivorsFrom(new Prng(3, 'survivors')));
    try {
      expect(rec.fsck!.code).toBeLessThan(4);
      const ls = await run('ls', [rec.stack.mountPoint!]);
      expect(ls.code).toBe(0);
    } finally {
      await rec.stack.release();
      await rec.device.dispose();
      await dev.dispose();
    }
    expect(leftoversOfThisRun()).toEqual([]);
  });

  test('the device host dies under a mounted stack: the release still unmounts the dead FUSE file system and leaves nothing', async () => {
    const dev = await HostedDevice.create({ profile: 'consumer-tlc', seed: 41, nsze: NSZE });
    const stack = await BlockStack.mountDevice(dev, { format: true });
    const host = dev.hostPid;
    process.kill(host, 'SIGKILL');
    expect(await waitGone([host], 10_000)).toEqual([]);
    await stack.release();
    await dev.dispose();
    expect(leftoversOfThisRun()).toEqual([]);
    expect(currentMounts().filter((m) => m.mountPoint === stack.fuse!.mountPoint)).toEqual([]);
  });

  test('a run SIGKILLed after a cut, with a writer of its own still running: its device host follows it, doctor lists the rest and --cleanup releases it', async () => {
    const dist = path.resolve(__dirname, '../../dist/src');
    if (!fs.existsSync(`${dist}/export/index.js`)) throw new Error('dist/ is missing: run npm run build first');
    // The victim run: mount, start a marked writer the plain way, cut the power mid-stream
    // and never answer the held requests.
    const script = `
      const { spawn } = require('node:child_process');
      const { BlockStack, HostedDevice, runLedger, RUN_ENV } = require(${JSON.stringify(dist + '/export')});
      (async () => {
        const s = await BlockStack.mountDevice(await HostedDevice.create({ profile: 'consumer-tlc', seed: 1, nsze: ${NSZE} }), { format: true });
        const w = spawn('sh', ['-c', 'i=0; while true; do dd if=/dev/zero of=' + s.mountPoint + '/f$i bs=64k count=4 conv=fsync 2>/dev/null; i=$((i+1)); done'],
          { env: { ...process.env, [RUN_ENV]: runLedger().runId }, stdio: 'ignore' });
        await s.armCut({ afterWrites: 30 });
        process.stdout.write(JSON.stringify({ run: runLedger().runId, writer: w.pid, host: s.device.hostPid }) + '\\n');
        setInterval(() => undefined, 1000);
      })();`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]);
      });
      child.on('exit', () => reject(new Error('child exited before the cut')));
    });
    const { run: victimRun, writer, host } = JSON.parse(line) as { run: string; writer: number; host: number };
    child.kill('SIGKILL');
    await waitGone([child.pid!], 10_000);
    // The device host ends with its orchestrator (its IPC channel closes), so the kernel fails what it held.
    expect(await waitGone([host], 10_000)).toEqual([]);
    const found = listLeftovers({ runId: victimRun });
    const kinds = new Set(found.map((f) => f.kind));
    for (const k of ['dir', 'fuse-mount', 'loop', 'mount', 'process']) expect({ kind: k, listed: kinds.has(k as never) }).toEqual({ kind: k, listed: true });
    const failed = await cleanupLeftovers(found);
    expect(failed).toEqual([]);
    expect(await waitGone([writer], 10_000)).toEqual([]);
    expect(listLeftovers({ runId: victimRun })).toEqual([]);
    expect(loopDevices().filter((l) => l.backingFile.includes(victimRun))).toEqual([]);
    // Nothing of any other run was touched: this run's own folder is intact.
    expect(fs.existsSync(runLedger().dir)).toBe(true);
  });
});

describe('bad input leaves nothing behind', () => {
  const cli = path.resolve(__dirname, '../../dist/src/cli/main.js');
  const runCli = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000 });
  /** Run folders a given process created (other runs may come and go meanwhile). */
  const runDirsOf = (pid: number | undefined) => (fs.existsSync(RUNTIME_ROOT) ? fs.readdirSync(RUNTIME_ROOT).filter((n) => n.startsWith(`r${pid}-`)) : []);

  test.each([
    [['pg', '--fpw', 'maybe'], /--fpw must be on or off/],
    [['pg', '--fpw', 'on', '--profile', 'no-such-profile'], /unknown profile/],
    [['pg', '--fpw', 'on', '--crashes', '0'], /--crashes/],
    [['pg', '--fpw', 'on', '--fault', 'gremlins'], /unknown fault/],
    [['pg', '--fpw', 'on', '--set', 'oops'], /NAME=VALUE/],
  ])('tornlab %j exits 2 with a message and creates no run', async (args, message) => {
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    const r = await runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.pid).toBeDefined();
    expect(runDirsOf(r.pid)).toEqual([]);
  });

  test('a missing PostgreSQL is a precondition error naming it (exit 2), before anything is mounted', async () => {
    const r = await runCli(['pg', '--fpw', 'on', '--crashes', '1'], { TORNLAB_PG_BIN: '/nonexistent/pg/bin' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\/nonexistent\/pg\/bin\/initdb/);
    expect(runDirsOf(r.pid)).toEqual([]);
  });
});
