/** Issue 16: bad input is exit 2 with a message naming what is wrong and how to fix it, never a stack trace. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const tornlab = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('replay ids with out-of-range fields', () => {
  // A crash point this cell's run reaches (found by tornlab run), then out-of-range variants of it.
  const base = 'tl1.minipage.none.consumer-tlc.8192.bank.50.1.p83';
  test.each([
    ['crash point', 'tl1.minipage.none.consumer-tlc.8192.bank.50.1.p999999999.s0', /crash point is out of range/],
    ['survivor choice', `${base}.ezzzzzzzzz`, /survivor choice is out of range: choice index \d+ outside 0\.\.\d+/],
    ['recovery crash point', `${base}.s0.r999999999.s0`, /recovery crash point is out of range/],
  ])('%s: exit 2, one line, no stack', (_what, id, message) => {
    const r = tornlab('replay', id);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/**
 * Issue 16 item 1: bad input is refused before any work, exit 2, one or two
 * lines naming the fix, no stack, and nothing left behind in the folder the
 * command ran in.
 */
describe('refused before any work', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-badinput-test-'));
    const files: Record<string, string | Buffer> = {
      'dotdot.yaml': 'name: ../x\nmodes: [none]\nprofiles: [consumer-tlc]\n',
      'nul.json': JSON.stringify({ name: 'a\u0000b', modes: ['none'], profiles: ['consumer-tlc'] }),
      'long.json': JSON.stringify({ name: 'n'.repeat(300), modes: ['none'], profiles: ['consumer-tlc'] }),
      'dup-profiles.yaml': 'modes: [none]\nprofiles: [consumer-tlc, consumer-tlc]\n',
      'dup-workloads.yaml': 'modes: [none]\nprofiles: [consumer-tlc]\nworkloads: [{name: bank, txns: 10}, {name: bank, txns: 20}]\n',
      'window.yaml': 'modes: [none]\nprofiles: [consumer-tlc]\nwindowMs: 5\n',
      'zero.yaml': 'modes: [none]\nprofiles: [consumer-tlc]\ncrashes: 0\n',
      'plain.yaml': 'modes: [none]\nprofiles: [consumer-tlc]\n',
      'latin1.yaml': Buffer.from('modes: [none]\nprofiles: [consumer-tlc]\nname: caf\xe9\n', 'latin1'),
      'big.yaml': 'modes: [none, fpw, doublewrite, atomic]\nprofiles: [consumer-tlc, atomic-16k, enterprise-plp]\nworkloads: [bank, kv-uniform, kv-zipf, ycsb-a, ycsb-f, tpcc-like, insert-seq]\npageSizes: [4096, 8192, 16384]\ncommits: [flush, fua, token, critical, window]\nforceAtomic: true\n',
      'huge.json': JSON.stringify({ modes: ['none'], profiles: ['consumer-tlc'], pad: 'x'.repeat(2 * 1024 * 1024) }),
    };
    for (const [n, t] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), t);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const inDir = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, cwd: dir });
  const run = ['run', '--mode', 'none', '--txns', '20', '--keys', '100'];

  test.each([
    ['--crashes 0', [...run, '--crashes', '0'], /--crashes 0 judges no crash state.*--crashes 1 or more/],
    ['--force with fpw', [...run, '--mode', 'fpw', '--force'], /--force does nothing with --mode fpw/],
    ['--force where the device covers the page', ['run', '--mode', 'atomic', '--force', '--profile', 'atomic-16k'], /--force does nothing on atomic-16k/],
    ['--workers above the cores', [...run, '--workers', '64'], /--workers 64 is more than the \d+ core\(s\).*--force-workers/],
    ['--force-workers alone', [...run, '--force-workers'], /--force-workers without --workers/],
    ['--cost-txns 0', [...run, '--cost-txns', '0'], /--cost-txns 0 measures nothing/],
    ['--out under /proc', [...run, '--out', '/proc/tornlab-x'], /--out \/proc\/tornlab-x: cannot create/],
    ['--junit under /proc', [...run, '--junit', '/proc/x.xml'], /--junit \/proc\/x\.xml: cannot write in \/proc/],
    ['--out at a file', [...run, '--out', 'dotdot.yaml/sub'], /is a file, not a folder/],
    ['--junit at a folder', [...run, '--junit', '.'], /--junit \. is a folder/],
    ['campaign name ../x', ['campaign', 'dotdot.yaml'], /name "\.\.\/x" cannot name the report folder/],
    ['campaign name with NUL', ['campaign', 'nul.json'], /name "a\\u0000b" cannot name the report folder/],
    ['campaign name of 300 bytes', ['campaign', 'long.json'], /is 300 bytes long; .* at most 100 bytes/],
    ['duplicate profiles', ['campaign', 'dup-profiles.yaml'], /profiles lists "consumer-tlc" twice/],
    ['duplicate workload names', ['campaign', 'dup-workloads.yaml'], /workloads lists "bank" twice/],
    ['windowMs without window', ['campaign', 'window.yaml'], /windowMs applies to the window commit method only/],
    ['crashes: 0 in a file', ['campaign', 'zero.yaml'], /crashes: must be >= 1/],
    ['non-UTF-8 file', ['campaign', 'latin1.yaml'], /not UTF-8 text \(invalid byte sequence at byte 48\)/],
    ['more cells than --max-cells', ['campaign', 'big.yaml', '--max-cells', '100'], /expands to 1260 cells .* more than the limit of 100; .* --max-cells 1260/],
    ['a 2 MiB campaign file', ['campaign', 'huge.json'], /is 2\.0 MiB; a campaign file is at most 1 MiB/],
    ['file and --default', ['campaign', 'zero.yaml', '--default'], /not both/],
    ['--no-costs on a campaign without cost runs', ['campaign', 'plain.yaml', '--no-costs'], /--no-costs: plain\.yaml has no cost runs \(no costTxns\) to skip; drop --no-costs/],
    ['bad --generated-at', ['campaign', '--default', '--generated-at', 'yesterday'], /--generated-at must be an ISO 8601 time/],
    ['--only a cell the campaign lacks', ['campaign', '--default', '--only', 'minipage/none/consumer-tlc/8192/kv-zipf'], /--only minipage\/none\/consumer-tlc\/8192\/kv-zipf: no such cell in the default campaign; its cells are named like minipage\/none\/consumer-tlc\/8192\/bank, .* \(46 in all\)/],
    ['--only with --databases', ['campaign', '--default', '--only', 'minipage/none/consumer-tlc/8192/bank', '--databases'], /--databases does nothing with --only/],
    ['pg --seed -1', ['pg', '--fpw', 'on', '--seed', '-1'], /--seed must be a non-negative integer, got "-1"/],
    ['pg --pgbench -1', ['pg', '--fpw', 'on', '--pgbench', '-1'], /--pgbench must be a non-negative integer/],
    ['sqlite --grid --journal-mode', ['sqlite', '--grid', '--journal-mode', 'WAL'], /--journal-mode does nothing with --grid/],
    ['sqlite --no-device --fault', ['sqlite', '--no-device', '--fault', 'lying-flush'], /--fault does nothing with --no-device/],
    ['exec --cut-after-acks --cut-within-ms', ['exec', '--mount', 'm', '--start', 'true', '--load', 'true', '--verify', 'true', '--cut-after-acks', '3', '--cut-within-ms', '5', '--no-device'], /--cut-within-ms does nothing with --cut-after-acks/],
    ['exec --no-device --device-mib', ['exec', '--mount', 'm', '--start', 'true', '--load', 'true', '--verify', 'true', '--no-device', '--device-mib', '8'], /--device-mib does nothing with --no-device/],
  ])('%s: exit 2, the fix named, no stack, nothing written', (_what, args, message) => {
    const before = fs.readdirSync(dir).sort();
    const r = inDir(...(args as string[]));
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
    expect(fs.readdirSync(dir).sort()).toEqual(before);
  });
});
