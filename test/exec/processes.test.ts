/**
 * engines/common/processes: a command is over when it exits, even when what it
 * put in the background holds its stdout; its process group lives on (and is
 * read, bounded) until it is killed or empties by itself.
 */
import { groupMembers, liveCount, OUTPUT_LIMIT, start } from '../../engines/common/processes';
import { running, until } from './helpers';

afterEach(() => expect(liveCount()).toBe(0));

describe('exec process groups', () => {
  test('exited resolves at the exit although a background child holds stdout; kill() takes the whole group', async () => {
    const t0 = Date.now();
    const p = start('/bin/sh', ['-c', 'sleep 1000 & echo $!; echo done']);
    const r = await p.exited;
    expect(r).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(2000);
    const bg = Number(p.output().split('\n')[0]);
    expect(running(bg)).toBe(true);
    expect(await groupMembers(p.pgid!)).toEqual([bg]);
    expect(liveCount()).toBe(1); // the group outlives its leader
    await p.kill();
    expect(running(bg)).toBe(false);
    expect(await groupMembers(p.pgid!)).toEqual([]);
  });

  test('a group that empties by itself is forgotten', async () => {
    const p = start('/bin/sh', ['-c', '(sleep 0.4; echo late) & echo early']);
    await p.exited;
    const at = p.outputLength();
    expect(liveCount()).toBe(1);
    expect(await until(() => liveCount() === 0, 3000)).toBe(true);
    expect(p.outputSince(at)).toBe('late\n');
  });

  test('output is read while the group lives and kept bounded', async () => {
    const p = start('/bin/sh', ['-c', `(head -c 3000000 /dev/zero | tr '\\0' x; echo end; exec sleep 1000) & true`]);
    await p.exited;
    expect(await until(() => p.output().endsWith('end\n'), 10_000)).toBe(true);
    expect(p.outputLength()).toBe(3_000_004);
    expect(p.output().length).toBe(OUTPUT_LIMIT);
    await p.kill();
  });
});
