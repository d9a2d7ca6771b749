/** The engine's commit-durability option and the campaign file's `commits`. */
import { createDevice } from '../../src/device/device';
import { MiniPageEngine, deviceBlocksFor } from '../../engines/minipage';
import { expandCampaign, parseCampaign } from '../../src/campaign/campaign-file';
import { BadInputError } from '../../src/util/errors';

function dev() {
  return createDevice({ profile: 'consumer-tlc', seed: 1, nsze: deviceBlocksFor({ mode: 'fpw', pageSize: 8192 }, 4096) });
}

test('window mode advertises its power window to the device; other modes leave it alone', () => {
  const d = dev();
  MiniPageEngine.create(d, { pageSize: 8192, mode: 'fpw', walDurability: 'window', powerWindowMs: 7 });
  expect(d.powerWindow).toBe(7);
  const d2 = dev();
  MiniPageEngine.create(d2, { pageSize: 8192, mode: 'fpw', walDurability: 'token' });
  expect(d2.powerWindow).toBe(0);
});

test('token commits issue no Flush and are acknowledged only once the device confirmed the WAL', () => {
  const d = dev();
  const eng = MiniPageEngine.create(d, { pageSize: 8192, mode: 'fpw', walDurability: 'token' });
  const flushes = d.counters.flushes;
  const tokens: number[] = [];
  d.onEvent((e) => {
    if (e.phase === 'complete' && e.tag === 'wal') tokens.push(e.id);
  });
  const tx = eng.begin();
  eng.put(tx, 'k', 'v');
  const t = eng.commitSync(tx);
  expect(t.acked).toBe(true);
  expect(d.counters.flushes).toBe(flushes);
  expect(tokens.length).toBeGreaterThan(0);
  for (const id of tokens) expect(d.isDurable(id)).toBe(true);
  // Durability came from background destage after the last device event: the ack is dated after it.
  expect(t.ackSeq).toBe(d.seq + 1);
  expect(t.ackTimeUs - t.commitTimeUs).toBeGreaterThanOrEqual(d.profile.cache.destageDelayUs);
});

test('bad options are refused', () => {
  expect(() => MiniPageEngine.create(dev(), { pageSize: 8192, walDurability: 'sometimes' as never })).toThrow(BadInputError);
  expect(() => MiniPageEngine.create(dev(), { pageSize: 8192, walDurability: 'token', powerWindowMs: 5 })).toThrow(/powerWindowMs applies to walDurability "window" only/);
  expect(() => MiniPageEngine.create(dev(), { pageSize: 8192, walDurability: 'window', powerWindowMs: -1 })).toThrow(/power window must be/);
});

test('a campaign file may list commit methods; without them it expands as before', () => {
  const plain = expandCampaign(parseCampaign('{"modes":["fpw"],"profiles":["consumer-tlc"],"pageSizes":[8192],"workloads":["bank"]}', 'c.json'));
  expect(plain).toHaveLength(1);
  expect('commit' in plain[0]).toBe(false);
  const c = expandCampaign(parseCampaign('modes: [fpw]\nprofiles: [consumer-tlc]\npageSizes: [8192]\nworkloads: [bank]\ncommits: [flush, token, window]\nwindowMs: 5\n', 'c.yaml'));
  expect(c.map((x) => [x.commit, x.windowMs])).toEqual([[undefined, undefined], ['token', undefined], ['window', 5]]);
  expect(() => parseCampaign('modes: [fpw]\nprofiles: [consumer-tlc]\npageSizes: [8192]\nworkloads: [bank]\ncommits: [sometimes]\n', 'c.yaml')).toThrow(/commits.0/);
});
