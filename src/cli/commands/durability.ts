/**
 * `tornlab durability`: the front end of the asynchronous-durability
 * experiment (ARCHITECTURE 2.5), which src/campaign/durability.ts runs: the
 * same cell (engine minipage, one mode, workload, profile, seed) is run with
 * each way of making a commit durable -- Flush, FUA, the CRITICAL intent,
 * waiting for persistence tokens, an advertised power window -- and once more
 * with the window fault, and each run's commit latency, throughput, Flush/FUA
 * per commit and crash verdicts are put side by side.
 *
 * Two cost-only tables follow (no crash states): the same methods with a
 * noisy neighbour writing to the same device (a Flush has to destage the
 * neighbour's data, a token does not wait for data younger than its write or
 * EPHEMERAL), and the same methods at several group-commit sizes.
 */
import { checkWorkers } from '../preflight';
import { Command, Option } from 'commander';
import { DEFAULT_WINDOW_MS, STRATEGIES, Strategy } from '../../crash/cell';
import { DurabilityResult, runDurabilityExperiment } from '../../campaign/durability';
import { DEFAULT_PROFILE, getProfile } from '../../device/profiles';
import { BadInputError } from '../../util/errors';
import { countsHaveHarnessError } from '../../crash/verdict';
import { runExitStatus } from '../exit-codes';

const fmt = (v: number | null, digits = 0): string => (v === null ? '-' : v.toFixed(digits));

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

export function formatDurability(r: DurabilityResult): string {
  const o = r.options;
  const p = getProfile(o.profile);
  const out: string[] = [];
  out.push(`Commit durability on ${o.profile} (${p.plp ? 'PLP' : p.identify.controller.vwc.present ? 'volatile cache' : 'no cache'}): ${o.mode}, ${o.workload}, ${o.txns} txns, ${o.pageSize} B pages, seed ${o.seed}; latencies in simulated us`);
  out.push(
    `  device: Flush base ${p.latency.flushBaseUs} us + dirty cache at ${p.latency.nandBytesPerUs} B/us; NAND program ${p.latency.nandProgramUs} us; background destage after ${p.cache.destageDelayUs} us; ` +
      `window ${o.windowMs} ms = ${((o.windowMs * 1000 * p.latency.nandBytesPerUs) / 1024).toFixed(0)} KiB of destage`,
  );
  out.push('');
  out.push(
    table(
      ['commit', 'p50 us', 'p99 us', 'txn/s', 'flush/commit', 'FUA/commit', 'CRIT/commit', 'crash states', 'verdicts'],
      r.rows.map((x) => [
        x.label,
        fmt(x.commitLatencyUs.p50),
        fmt(x.commitLatencyUs.p99),
        fmt(x.throughputTxnPerSec),
        fmt(x.flushesPerCommit, 2),
        fmt(x.fuaWritesPerCommit, 2),
        fmt(x.criticalWritesPerCommit, 2),
        String(x.crashStatesTried),
        `${Object.entries(x.verdicts).map(([k, n]) => `${k}=${n}`).join(' ')} -> ${x.status === 'pass' ? 'pass' : x.status === 'finding-expected' ? `expected (${x.expectation})` : x.status === 'harness-error' ? 'HARNESS ERROR (not judged)' : 'BUG'}`,
      ]),
    ),
  );
  const bad = r.rows.filter((x) => x.firstFinding);
  for (const x of bad) out.push(`  ${x.label}: e.g. tornlab replay ${x.firstFinding}`);
  if (r.neighbour.length > 0) {
    out.push('', `With a noisy neighbour on the same device (${r.neighbour.find((x) => x.neighbour)?.neighbour}), group commit of up to 4, cost only:`);
    const methods = [...new Set(r.neighbour.map((x) => x.label))];
    out.push(
      table(
        ['commit', 'p50 alone', 'p50 neighbour', 'p99 neighbour', 'txn/s alone', 'txn/s neighbour'],
        methods.map((m) => {
          const a = r.neighbour.find((x) => x.label === m && !x.neighbour)!;
          const b = r.neighbour.find((x) => x.label === m && x.neighbour)!;
          return [m, fmt(a.commitLatencyUs.p50), fmt(b.commitLatencyUs.p50), fmt(b.commitLatencyUs.p99), fmt(a.throughputTxnPerSec), fmt(b.throughputTxnPerSec)];
        }),
      ),
    );
  }
  if (r.groups.length > 0) {
    out.push('', 'Group commit (up to N transactions per group), cost only: p50 us / txn/s');
    const sizes = [...new Set(r.groups.map((x) => x.groupSize))];
    const methods = [...new Set(r.groups.map((x) => x.label))];
    out.push(
      table(
        ['commit', ...sizes.map((g) => `N=${g}`)],
        methods.map((m) => [m, ...sizes.map((g) => {
          const x = r.groups.find((y) => y.label === m && y.groupSize === g)!;
          return `${fmt(x.commitLatencyUs.p50)} / ${fmt(x.throughputTxnPerSec)}`;
        })]),
      ),
    );
  }
  return out.join('\n');
}

function num(name: string, integer: boolean) {
  return (v: string) => {
    if (!(integer ? /^[0-9]+$/ : /^[0-9]+(\.[0-9]+)?$/).test(v)) throw new BadInputError(`${name} must be a non-negative ${integer ? 'integer' : 'number'}, got "${v}"`);
    return Number(v);
  };
}

export function registerDurabilityCommands(program: Command): void {
  program
    .command('durability')
    .description('compare commit by Flush, FUA, CRITICAL intent, persistence token and power window: latency, throughput, crash verdicts')
    .option('--profile <name>', 'device profile (tornlab profiles)', DEFAULT_PROFILE)
    .addOption(new Option('--mode <mode>', 'torn-write protection').choices(['none', 'doublewrite', 'fpw', 'atomic']).default('fpw'))
    .option('--workload <name>', 'kv-uniform, kv-zipf, bank or insert-seq', 'bank')
    .option('--page-size <bytes>', 'page size: 4096, 8192 or 16384', num('--page-size', true), 8192)
    .option('--txns <n>', 'transactions in the workload', num('--txns', true), 300)
    .option('--crashes <n>', 'crash-state budget per commit method', num('--crashes', true), 300)
    .option('--seed <n>', 'seed of every random choice', num('--seed', true), 1)
    .option('--window-ms <ms>', 'power window the host advertises for the window method', num('--window-ms', false), DEFAULT_WINDOW_MS)
    .addOption(new Option('--strategy <name>', 'crash-point strategy').choices([...STRATEGIES]).default('mixed'))
    .option('--neighbour-kib <n>', 'noisy-neighbour KiB per group commit for the cost-only table (0: skip it)', num('--neighbour-kib', true), 256)
    .addOption(new Option('--neighbour-intent <intent>', 'write intent of the neighbour').choices(['standard', 'ephemeral']).default('ephemeral'))
    .option('--groups <list>', 'group-commit sizes for the cost-only table, comma-separated ("" to skip)', '1,4,16')
    .option('--workers <n>', 'worker threads (default: one per core, max 2)', num('--workers', true))
    .option('--force-workers', 'allow --workers above the core count')
    .option('--json', 'print the results as JSON')
    .action(async (o) => {
      const groupSizes = String(o.groups)
        .split(',')
        .filter((s) => s.trim() !== '')
        .map((s) => num('--groups', true)(s.trim()));
      const workers = checkWorkers(o.workers, !!o.forceWorkers);
      const r = await runDurabilityExperiment({
        profile: o.profile,
        mode: o.mode,
        workload: o.workload,
        pageSize: o.pageSize,
        txns: o.txns,
        crashes: o.crashes,
        seed: o.seed,
        windowMs: o.windowMs,
        strategy: o.strategy as Strategy,
        workers,
        neighbourBytes: o.neighbourKib * 1024,
        neighbourIntent: o.neighbourIntent,
        groupSizes,
      });
      process.stdout.write((o.json ? JSON.stringify(r, null, 2) : formatDurability(r)) + '\n');
      // Findings the expectation tolerates (the window fault) are the experiment's point; a bug is not. Harness errors: 3.
      process.exitCode = runExitStatus({ findings: r.rows.some((x) => x.status === 'finding-bug'), harnessErrors: r.rows.some((x) => countsHaveHarnessError(x.verdicts)) });
    });
}
