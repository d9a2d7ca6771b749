/** Replay ids carry the commit method as a mode suffix, absent for Flush, so default ids never change. */
import { formatReplayId, parseReplayId, CrashStateId } from '../../src/crash/replay-id';

const base: CrashStateId = {
  engine: 'minipage',
  mode: 'fpw',
  force: false,
  profile: 'consumer-tlc',
  faults: [],
  pageSize: 8192,
  workload: 'bank',
  txns: 300,
  seed: 1,
  point: 55,
  choice: { kind: 'sample', n: 3 },
};

test('a default (flush) id is unchanged', () => {
  expect(formatReplayId(base)).toBe('tl1.minipage.fpw.consumer-tlc.8192.bank.300.1.p55.s3');
  expect(formatReplayId({ ...base, commit: 'flush' })).toBe('tl1.minipage.fpw.consumer-tlc.8192.bank.300.1.p55.s3');
  expect(parseReplayId('tl1.minipage.fpw.consumer-tlc.8192.bank.300.1.p55.s3').commit).toBeUndefined();
});

test.each([
  [{ commit: 'token' }, 'fpw@token'],
  [{ commit: 'fua' }, 'fpw@fua'],
  [{ commit: 'critical' }, 'fpw@critical'],
  [{ commit: 'window', windowMs: 50 }, 'fpw@window50ms'],
  [{ commit: 'window', windowMs: 0.2 }, 'fpw@window200us'],
  [{ commit: 'window', windowMs: 2.5 }, 'fpw@window2500us'],
  [{ commit: 'token', mode: 'atomic', force: true }, 'atomic!@token'],
] as const)('%j round-trips as %s', (extra, field) => {
  const s = { ...base, ...extra } as CrashStateId;
  const id = formatReplayId(s);
  expect(id.split('.')[2]).toBe(field);
  const back = parseReplayId(id);
  expect(formatReplayId(back)).toBe(id);
  expect(back.commit).toBe(extra.commit);
  if (extra.commit === 'window') expect(back.windowMs).toBe(extra.windowMs);
});

test.each(['fpw@flush', 'fpw@window', 'fpw@window1000us', 'fpw@window0ms', 'fpw@bogus', 'fpw@token@fua', 'fpw@'])('%s is refused', (field) => {
  expect(() => parseReplayId(`tl1.minipage.${field}.consumer-tlc.8192.bank.300.1.p55.s3`)).toThrow(/not a replay id/);
});
