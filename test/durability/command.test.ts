/** `tornlab durability`: one table, every commit method plus the window fault. */
import { formatDurability } from '../../src/cli/commands/durability';
import { runDurabilityExperiment } from '../../src/campaign/durability';

test('the experiment runs every method, the window fault is the only finding, and it is expected', async () => {
  const r = await runDurabilityExperiment({
    profile: 'consumer-tlc', mode: 'fpw', workload: 'bank', pageSize: 8192, txns: 80, crashes: 60, seed: 2, windowMs: 50,
    strategy: 'mixed', workers: 1, neighbourBytes: 64 * 1024, neighbourIntent: 'ephemeral', groupSizes: [1, 8],
  });
  const text = formatDurability(r);
  console.log(text);
  expect(r.rows.map((x) => x.label)).toEqual(['flush', 'fua', 'token', 'critical', 'window50ms', 'window50ms +power-window-not-honoured']);
  for (const x of r.rows.slice(0, 5)) expect(x.status).toBe('pass');
  const fault = r.rows[5];
  expect(fault.status).toBe('finding-expected');
  expect(fault.verdicts['lost-commit']).toBeGreaterThan(0);
  expect(fault.firstFinding).toMatch(/^tl1\.minipage\.fpw@window50ms\./);
  expect(r.rows.find((x) => x.label === 'critical')!.criticalWritesPerCommit!).toBeGreaterThan(0.2);
  expect(r.rows.find((x) => x.label === 'fua')!.fuaWritesPerCommit!).toBeGreaterThan(0.2);
  expect(r.neighbour).toHaveLength(10);
  expect(r.groups).toHaveLength(10);
  expect(text).toContain('tornlab replay tl1.minipage.fpw@window50ms.consumer-tlc+power-window-not-honoured.8192.bank.80.2.');
}, 60_000);

test('bad options are refused', async () => {
  const o = { profile: 'consumer-tlc', mode: 'fpw', workload: 'bank', pageSize: 8192, txns: 10, crashes: 1, seed: 1, windowMs: 0, strategy: 'mixed' as const, neighbourBytes: 0, neighbourIntent: 'ephemeral' as const, groupSizes: [] };
  await expect(runDurabilityExperiment(o)).rejects.toThrow(/--window-ms/);
  await expect(runDurabilityExperiment({ ...o, windowMs: 5, profile: 'nope' })).rejects.toThrow(/unknown profile/);
  await expect(runDurabilityExperiment({ ...o, windowMs: 5, neighbourBytes: 1000 })).rejects.toThrow(/--neighbour-kib/);
});
