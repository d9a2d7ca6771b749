/**
 * MariaDB's container runtime without a daemon: campaign expansion over
 * versions, bad input named (exit 2 on the command line), replay ids and
 * report cells carrying runtime and version, the one-container innochecksum
 * output split per file, and a container cell skipped with one line when no
 * engine answers (TORNLAB_DOCKER_RUN_DIR points at an empty folder).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
const emptyRunDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-nodocker-'));
process.env.TORNLAB_DOCKER_RUN_DIR = emptyRunDir;

import { parseCampaign } from '../../src/campaign/campaign-file';
import { sectionCells } from '../campaign/sections';
import { mariadbAdapter } from '../../engines/mariadb/adapter';
import { DEFAULT_CELL, parseMariadbReplayId, replayIdOf, validateCell } from '../../engines/mariadb/cycle';
import { mariadbMeasurementsOf } from '../../engines/mariadb/campaign';
import { parseInnochecksumRuns } from '../../engines/mariadb/container-server';
import { runCampaign } from '../../src/campaign/run-campaign';

afterAll(() => fs.rmSync(emptyRunDir, { recursive: true, force: true }));

const cell = { ...DEFAULT_CELL, doublewrite: false, seed: 1, crashes: 1 };

describe('MariaDB container runtime plan', () => {
  test('versions expand to one cell per version, versions outermost', () => {
    const c = parseCampaign('profiles: [consumer-tlc]\nmodes: []\nmariadb: { doublewrite: [off, on], runtime: container, versions: ["10.11", "11.8"] }\n', 'x.yaml');
    expect(sectionCells(c, 'mariadb').map((x) => `${x.runtime}/${x.mariadbVersion}/${x.doublewrite}`)).toEqual(['container/10.11/false', 'container/10.11/true', 'container/11.8/false', 'container/11.8/true']);
    const one = sectionCells(parseCampaign('profiles: [consumer-tlc]\nmariadb: { doublewrite: [off], runtime: container }\n', 'y.yaml'), 'mariadb');
    expect(one.map((x) => x.mariadbVersion)).toEqual(['10.11']);
    expect(sectionCells(parseCampaign('profiles: [consumer-tlc]\nmariadb: { doublewrite: [off] }\n', 'z.yaml'), 'mariadb')[0].runtime).toBeUndefined();
  });

  test('bad input is named', () => {
    expect(() => sectionCells(parseCampaign('profiles: [consumer-tlc]\nmariadb: { doublewrite: [off], versions: ["11.8"] }\n', 'x.yaml'), 'mariadb')).toThrow(/mariadb.versions needs runtime: container/);
    expect(() => parseCampaign('profiles: [consumer-tlc]\nmariadb: { doublewrite: [off], runtime: container, versions: ["10.6"] }\n', 'x.yaml')).toThrow(/mariadb.versions.0: must be equal to one of the allowed values \(10.11, 11.8\)/);
    expect(() => validateCell({ ...cell, runtime: 'container', mariadbVersion: '11.4' })).toThrow(/--mariadb-version must be one of 10.11, 11.8, got 11.4/);
    expect(() => validateCell({ ...cell, mariadbVersion: '11.8' })).toThrow(/--mariadb-version needs --runtime container/);
  });

  test('replay ids and report cells carry the runtime and version', () => {
    const c118 = { ...cell, runtime: 'container' as const, mariadbVersion: '11.8' };
    const id = replayIdOf(c118, 3);
    expect(id).toBe('mariadb@container11.8:consumer-tlc:dblwr=off:O_DIRECT:16k:trx=1:ext4:flush:seed=1:cycle=3');
    const back = parseMariadbReplayId(id);
    expect([back.cfg.runtime, back.cfg.mariadbVersion, back.cycle, replayIdOf(back.cfg, back.cycle)]).toEqual(['container', '11.8', 3, id]);
    expect(parseMariadbReplayId('mariadb:consumer-tlc:dblwr=on:O_DIRECT:16k:trx=1:ext4:flush:seed=1:cycle=0').cfg.runtime).toBeUndefined();
    expect(() => parseMariadbReplayId('mariadb@container10.6:consumer-tlc:dblwr=on:O_DIRECT:16k:trx=1:ext4:flush:seed=1:cycle=0')).toThrow(/--mariadb-version must be one of/);
    expect(mariadbMeasurementsOf(c118, []).engine).toBe('mariadb@container11.8');
    expect(mariadbMeasurementsOf(cell, []).engine).toBe('mariadb');
  });

  test("one container's innochecksum output splits per file; a file without its marker has no result", () => {
    const out = ['Fail: page::3 invalid', '@@tornlab-innochecksum 0 /m/mysql/ibdata1', '', '@@tornlab-innochecksum 1 /m/mysql/a b.ibd', 'Error: cut short'].join('\n');
    const runs = parseInnochecksumRuns(out, ['/m/mysql/ibdata1', '/m/mysql/a b.ibd', '/m/mysql/c.ibd']);
    expect(runs).toEqual([
      { file: '/m/mysql/ibdata1', output: 'Fail: page::3 invalid', code: 0 },
      { file: '/m/mysql/a b.ibd', output: '', code: 1 },
    ]);
    // Out of step (a marker for another file): nothing after it is trusted.
    expect(parseInnochecksumRuns('@@tornlab-innochecksum 0 /x\n', ['/y'])).toEqual([]);
  });

  test('without an engine, a container cell is skipped with one line and the rest runs', async () => {
    const skipped: string[] = [];
    const r = await runCampaign([], { name: 't' }, { realCells: [{ adapter: mariadbAdapter, cfg: { ...cell, runtime: 'container', mariadbVersion: '11.8' } }], onSkip: (c, why) => skipped.push(`${c}: ${why}`) });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^mariadb@container11\.8 doublewrite=off on consumer-tlc: (tornlab's dockerd is not running|no container engine)/);
    expect(r.report.cells).toEqual([]);
  });
});

describe('MariaDB container runtime on the command line', () => {
  const cli = path.join(__dirname, '../../dist/src/cli/main.js');
  test.each([
    [['mariadb', '--doublewrite', 'on', '--runtime', 'bogus'], /--runtime must be local or container, got bogus/],
    [['mariadb', '--doublewrite', 'on', '--runtime', 'container', '--mariadb-version', '10.6'], /--mariadb-version must be one of 10.11, 11.8, got 10.6/],
    [['mariadb', '--doublewrite', 'on', '--mariadb-version', '11.8'], /--mariadb-version needs --runtime container/],
    [['mariadb', '--doublewrite', 'on', '--runtime', 'container', '--mariadb-version', '11.8', '--crashes', '1'], /MariaDB 11.8 in a container: (tornlab's dockerd is not running|no container engine)/],
    [['replay', 'mariadb@container11.8:consumer-tlc:dblwr=off:O_DIRECT:16k:trx=1:ext4:flush:seed=1:cycle=0'], /MariaDB 11.8 in a container: (tornlab's dockerd is not running|no container engine)/],
  ])('tornlab %j: exit 2 naming the fix', (args, msg) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TORNLAB_DOCKER_RUN_DIR: emptyRunDir } });
    expect(r.stderr).toMatch(msg);
    expect(r.status).toBe(2);
  });
});
