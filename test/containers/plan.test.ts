/**
 * The container runtime's plan, without a daemon: campaign expansion over
 * versions, bad input named, replay ids carrying runtime and version, image
 * tags from the recipe, and a container cell skipped with one line when no
 * engine answers (TORNLAB_DOCKER_RUN_DIR points at an empty folder).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
const emptyRunDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-nodocker-'));
process.env.TORNLAB_DOCKER_RUN_DIR = emptyRunDir;

import { parseCampaign } from '../../src/campaign/campaign-file';
import { sectionCells } from '../campaign/sections';
import { pgAdapter } from '../../engines/postgres/adapter';
import { parsePgReplayId } from '../../engines/postgres/config';
import { DEFAULT_CELL, validateCell } from '../../engines/postgres/config';
import { IMAGES, RECIPES, imageTag, recipeHash } from '../../src/export/containers/images';
import { containerUnavailable } from '../../src/export/containers/availability';
import { runCampaign } from '../../src/campaign/run-campaign';
import { parseImages } from '../../src/cli/commands/containers';

afterAll(() => fs.rmSync(emptyRunDir, { recursive: true, force: true }));

describe('container runtime plan', () => {
  test('postgres versions expand to one cell per version, runtime container', () => {
    const c = parseCampaign('profiles: [consumer-tlc]\nmodes: []\npostgres: { fpw: [off, on], runtime: container, versions: ["15", "18"] }\n', 'x.yaml');
    const cells = sectionCells(c, 'pg');
    expect(cells.map((x) => `${x.runtime}/${x.pgVersion}/${x.fpw}`)).toEqual(['container/15/false', 'container/15/true', 'container/18/false', 'container/18/true']);
    const sq = sectionCells(parseCampaign('profiles: [consumer-tlc]\nsqlite: { cells: [{journalMode: OFF, synchronous: FULL}], runtime: container }\n', 'y.yaml'), 'sqlite');
    expect(sq[0].runtime).toBe('container');
  });

  test('bad input is named', () => {
    expect(() => sectionCells(parseCampaign('profiles: [consumer-tlc]\npostgres: { fpw: [off], versions: ["17"] }\n', 'x.yaml'), 'pg')).toThrow(/versions needs runtime: container/);
    expect(() => parseCampaign('profiles: [consumer-tlc]\npostgres: { fpw: [off], runtime: container, versions: ["16"] }\n', 'x.yaml')).toThrow(/postgres.versions.0: must be equal to one of the allowed values \(15, 17, 18\)/);
    expect(() => validateCell({ ...DEFAULT_CELL, fpw: true, seed: 1, crashes: 1, runtime: 'container', pgVersion: '16' })).toThrow(/--pg-version must be one of 15, 17, 18/);
    expect(() => validateCell({ ...DEFAULT_CELL, fpw: true, seed: 1, crashes: 1, pgVersion: '17' })).toThrow(/--pg-version needs --runtime container/);
    expect(() => parseImages('pg15,pg16')).toThrow(/unknown image "pg16"/);
  });

  test('replay ids carry the runtime and version', () => {
    const { cfg, cycle } = parsePgReplayId('pg@container17:consumer-tlc:fpw=off:checkpoint:seed=3:cycle=2');
    expect([cfg.runtime, cfg.pgVersion, cfg.fpw, cfg.seed, cycle]).toEqual(['container', '17', false, 3, 2]);
    expect(parsePgReplayId('pg:consumer-tlc:fpw=on:checkpoint:seed=1:cycle=0').cfg.runtime).toBeUndefined();
  });

  test('image tags follow the recipe: images of one recipe share the hash, a different mirror changes it', () => {
    expect(imageTag(IMAGES.pg15, 'http://m/debian').split(':')[1]).toBe(imageTag(IMAGES.sqlite, 'http://m/debian').split(':')[1]);
    expect(recipeHash(RECIPES['bookworm-pg'], 'http://m/debian')).not.toBe(recipeHash(RECIPES['bookworm-pg'], 'http://other/debian'));
    expect(imageTag(IMAGES.pg17, 'http://m/debian')).toMatch(/^tornlab\/pg17:[0-9a-f]{12}$/);
  });

  test('without an engine, a container cell is skipped with one line and the rest runs', async () => {
    expect(await containerUnavailable('pg15')).toMatch(/dockerd is not running|no container engine/);
    const skipped: string[] = [];
    const cfg = { ...DEFAULT_CELL, fpw: false, seed: 1, crashes: 1, runtime: 'container' as const, pgVersion: '18' };
    const r = await runCampaign([], { name: 't' }, { realCells: [{ adapter: pgAdapter, cfg }], onSkip: (cell, why) => skipped.push(`${cell}: ${why}`) });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^postgres@container18 fpw=off on consumer-tlc: /);
    expect(r.report.cells).toEqual([]);
  });
});

describe('container runtime bad input on the command line', () => {
  const cli = path.join(__dirname, '../../dist/src/cli/main.js');
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  test.each([
    [['pg', '--fpw', 'on', '--runtime', 'bogus'], /--runtime must be local or container, got bogus/],
    [['pg', '--fpw', 'on', '--runtime', 'container', '--pg-version', '16'], /--pg-version must be one of 15, 17, 18, got 16/],
    [['pg', '--fpw', 'on', '--pg-version', '17'], /--pg-version needs --runtime container/],
    [['sqlite', '--runtime', 'bogus'], /--runtime must be local or container, got "bogus"/],
    [['containers', 'setup', '--images', 'pg16'], /unknown image "pg16"/],
  ])('tornlab %j: exit 2 naming the fix', (args, msg) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TORNLAB_DOCKER_RUN_DIR: emptyRunDir } });
    expect(r.stderr).toMatch(msg);
    expect(r.status).toBe(2);
  });
});
