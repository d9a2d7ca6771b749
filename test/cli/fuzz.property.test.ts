/**
 * Issue 16 item 7: a fuzz test of the CLI. Over generated argument vectors and
 * campaign files (valid and invalid values mixed, sizes kept small so a run
 * that is accepted ends in seconds), every process
 *  - ends within its time limit,
 *  - exits 0, 1, 2, 3 or 4 (never Node's own 1 with a stack, never a signal),
 *  - prints no stack trace (no --debug is given),
 *  - writes nothing outside the temp folder it runs in (its relative outputs
 *    land there; no temp folder named after its pid is left in os.tmpdir()).
 * The kinds of input tried are listed in docs/bad-input.md.
 */
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const LIMIT_MS = 120_000;

const oneOf = <T>(...xs: T[]) => fc.constantFrom(...xs);
const maybe = <T>(a: fc.Arbitrary<T[]>) => fc.oneof(fc.constant([] as T[]), a);
const num = oneOf('0', '1', '3', '-1', '1e3', 'x', '', '99999999999999999999');
const opt = (flag: string, values: fc.Arbitrary<string>) => maybe(values.map((v) => [flag, v]));

const runArgs = fc
  .tuple(
    opt('--mode', oneOf('none', 'fpw', 'doublewrite', 'atomic', 'bogus')),
    opt('--profile', oneOf('consumer-tlc', 'atomic-16k', 'nope')),
    opt('--fault', oneOf('lying-flush', 'sub-block-tear', 'misdirected-write', 'bad-fault')),
    opt('--page-size', oneOf('4096', '8192', '1000')),
    opt('--workload', oneOf('bank', 'ycsb-a', 'nope')),
    opt('--crashes', oneOf('0', '2', '5', '-3')),
    opt('--commit', oneOf('flush', 'token', 'window', 'x')),
    opt('--window-ms', oneOf('5', '0', 'abc')),
    opt('--workers', oneOf('1', '0', '64')),
    opt('--out', oneOf('out', '/proc/nope', 'a/b/c')),
    opt('--junit', oneOf('j.xml', '/proc/j.xml', '.')),
    maybe(oneOf(['--force'], ['--json'], ['--force-workers'], ['--bogus-option'])),
  )
  .map((parts) => ['run', '--txns', '20', '--keys', '100', ...parts.flat()]);

const campaignFile = fc.record(
  {
    name: oneOf('ok-name', '../up', 'a\u0000b', 'x'.repeat(120), '.hidden', 'spaces in it'),
    modes: fc.subarray(['none', 'fpw', 'doublewrite', 'atomic', 'bogus'], { maxLength: 2 }),
    profiles: fc.subarray(['consumer-tlc', 'atomic-16k', 'nope'], { minLength: 0, maxLength: 2 }),
    workloads: oneOf(['bank'], [{ name: 'bank', txns: 20, keys: 100 }], ['bank', 'bank'], [{ name: 'nope' }]),
    crashes: oneOf<unknown>(0, 2, -1, 'many'),
    txns: oneOf(20, 0),
    keys: oneOf(100, 1),
    windowMs: oneOf(5, -1),
    commits: oneOf(['flush'], ['window'], ['flush', 'flush']),
    junk: oneOf<unknown>(1, 'x'),
  },
  { requiredKeys: ['modes', 'profiles'] },
);

const campaignCase = fc.tuple(campaignFile, oneOf('json', 'yaml', 'latin1'), opt('--max-cells', num), opt('--workers', oneOf('1', '64')), maybe(oneOf(['--out', 'rep'], ['--json'], ['--default'])));

const otherArgs = oneOf(
  ['replay', 'tl1.minipage.none.consumer-tlc.8192.bank.50.1.p999999999.s0'],
  ['replay', 'not-an-id'],
  ['replay', 'pg:consumer-tlc:fpw=maybe:checkpoint:seed=1:cycle=0'],
  ['report', 'missing-dir'],
  ['report', '.'],
  ['sqlite', '--crashes', '0'],
  ['sqlite', '--grid', '--synchronous', 'FULL'],
  ['sqlite', '--journal-mode', 'BOGUS'],
  ['pg', '--fpw', 'maybe'],
  ['pg', '--fpw', 'on', '--seed', '-1'],
  ['exec', '--mount', 'm', '--start', 'no-such-program-x', '--load', 'true', '--verify', 'true', '--no-device'],
  ['doctor', '--after-pid', 'abc'],
  ['profiles', '--bogus'],
  ['no-such-command'],
);

function writeCampaign(dir: string, file: Record<string, unknown>, kind: string): string {
  const name = path.join(dir, `c.${kind === 'json' ? 'json' : 'yaml'}`);
  const text = kind === 'json' ? JSON.stringify(file) : require('yaml').stringify(file);
  fs.writeFileSync(name, kind === 'latin1' ? Buffer.from(text + '# caf\xe9\n', 'latin1') : text);
  return path.basename(name);
}

function tmpEntriesOf(pid: number): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tornlab-') && n.includes(`-${pid}-`));
}

test(
  'any argument vector or campaign file: ends in time, exit 0-4, no stack, nothing outside its folder',
  () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-fuzz-test-'));
    let n = 0;
    try {
      fc.assert(
        fc.property(fc.oneof(runArgs.map((a) => ({ args: a })), campaignCase.map((c) => ({ campaign: c })), otherArgs.map((a) => ({ args: a }))), (input) => {
          const dir = path.join(root, String(n++));
          fs.mkdirSync(dir);
          let args: string[];
          if ('campaign' in input && input.campaign) {
            const [file, kind, ...rest] = input.campaign;
            args = ['campaign', writeCampaign(dir, file as Record<string, unknown>, kind), ...rest.flat()];
          } else args = (input as { args: string[] }).args;
          const t0 = Date.now();
          const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: LIMIT_MS, cwd: dir, env: { ...process.env, TORNLAB_DEBUG: '' } });
          const what = `tornlab ${JSON.stringify(args)} -> status ${r.status} signal ${r.signal} in ${Date.now() - t0} ms\n${r.stderr.slice(0, 2000)}`;
          if (r.signal !== null || r.status === null) throw new Error(`did not end by itself: ${what}`);
          if (![0, 1, 2, 3, 4].includes(r.status)) throw new Error(`exit status outside 0-4: ${what}`);
          if (/\n\s+at .*\(.*:\d+:\d+\)/.test(r.stderr + r.stdout)) throw new Error(`stack trace: ${what}`);
          const left = tmpEntriesOf(r.pid);
          if (left.length) throw new Error(`left in ${os.tmpdir()}: ${left.join(', ')}: ${what}`);
          fs.rmSync(dir, { recursive: true, force: true });
        }),
        { numRuns: 16, seed: 16 },
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  },
  16 * LIMIT_MS,
);
