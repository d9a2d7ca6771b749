/**
 * One grammar for the replay ids of real-database cycles
 * (src/crash/replay-id.ts): every engine's ids parse as the same envelope,
 * each engine's parser reads back exactly what its formatter wrote, and
 * `tornlab replay` refuses what it cannot rerun with a line that says what to
 * do instead (exit 2, nothing started).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { formatCycleReplayId, isCrashStateReplayId, parseCycleReplayId } from '../../src/crash/replay-id';
import { DEFAULT_CELL as PG_DEFAULT, parsePgReplayId, pgReplayId } from '../../engines/postgres/config';
import { DEFAULT_CELL as MARIADB_DEFAULT, parseMariadbReplayId, replayIdOf } from '../../engines/mariadb/cycle';
import { sqliteCycleId } from '../../engines/sqlite/campaign';
import { execCycleId } from '../../engines/exec/runner';
import { REAL_DATABASES } from '../../engines/registry';

describe('the cycle replay-id envelope', () => {
  test('format and parse are inverse, with and without runtime and body', () => {
    for (const id of [
      { kind: 'pg', body: 'consumer-tlc:fpw=off:checkpoint', seed: 1, cycle: 3 },
      { kind: 'mariadb', runtime: 'container11.8', body: 'atomic-16k:dblwr=off:O_DIRECT:16k:trx=1:ext4:flush', seed: -4, cycle: 0 },
      { kind: 'exec', body: '', seed: 9, cycle: 12 },
    ]) {
      const text = formatCycleReplayId(id);
      expect(parseCycleReplayId(text)).toEqual(id.runtime ? id : { kind: id.kind, body: id.body, seed: id.seed, cycle: id.cycle });
      expect(isCrashStateReplayId(text)).toBe(false);
    }
    expect(formatCycleReplayId({ kind: 'exec', body: '', seed: 9, cycle: 12 })).toBe('exec:seed=9:cycle=12');
    expect(isCrashStateReplayId('tl1.minipage.none.consumer-tlc.8192.bank.300.42.p1834.s3')).toBe(true);
  });

  test('what is not an id is refused naming both grammars', () => {
    for (const bad of ['', 'not-an-id', 'pg:consumer-tlc:seed=1', 'pg:x:seed=one:cycle=0', 'PG:x:seed=1:cycle=0']) {
      expect(() => parseCycleReplayId(bad)).toThrow(/is not a replay id: a crash state of the mini engine is tl1\..*<kind>\[@<runtime>\]:<fields>:seed=<S>:cycle=<N>/);
    }
  });

  test("every engine's ids are in the envelope, under its adapter's kind", () => {
    const ids: Record<string, string> = {
      pg: pgReplayId({ ...PG_DEFAULT, fpw: false, seed: 2, crashes: 4, faults: ['lying-flush'] }, 3),
      mariadb: replayIdOf({ ...MARIADB_DEFAULT, doublewrite: true, seed: 5, crashes: 2 }, 1),
      sqlite: sqliteCycleId({ journalMode: 'WAL', synchronous: 'FULL', pageSize: 16384 }, 1, 0),
      exec: execCycleId(7, 2),
    };
    expect(REAL_DATABASES.map((a) => a.kind).sort()).toEqual(Object.keys(ids).sort());
    for (const [kind, id] of Object.entries(ids)) expect(parseCycleReplayId(id).kind).toBe(kind);
    expect(parseCycleReplayId(ids.pg)).toMatchObject({ seed: 2, cycle: 3 });
    expect(parseCycleReplayId(ids.sqlite).body).toBe('journal=WAL sync=FULL page=16384');
  });

  test('pg and mariadb read back what they wrote (runtime, faults, file system)', () => {
    const pg = { ...PG_DEFAULT, fpw: true, seed: 11, crashes: 1, faults: ['lying-flush'], runtime: 'container' as const, pgVersion: '17', fs: 'xfs' as const };
    const back = parsePgReplayId(pgReplayId(pg, 6));
    expect(back.cycle).toBe(6);
    expect(pgReplayId(back.cfg, 6)).toBe(pgReplayId(pg, 6));
    const m = { ...MARIADB_DEFAULT, doublewrite: false, seed: 3, crashes: 1, runtime: 'container' as const, mariadbVersion: '11.8' };
    const mb = parseMariadbReplayId(replayIdOf(m, 2));
    expect(replayIdOf(mb.cfg, 2)).toBe(replayIdOf(m, 2));
    // An id of one engine is not an id of another.
    expect(() => parsePgReplayId(replayIdOf(m, 2))).toThrow(/not a PostgreSQL replay id/);
    expect(() => parseMariadbReplayId(pgReplayId(pg, 6))).toThrow(/not a MariaDB replay id/);
    expect(() => parsePgReplayId('pg@container:consumer-tlc:fpw=on:checkpoint:seed=1:cycle=0')).toThrow(/not a PostgreSQL replay id/);
  });
});

describe('cell fields that differ from the defaults are in the id (w~), so a non-default cell replays as itself', () => {
  test('pg: load, data set, settings and namespace size', () => {
    const cfg = { ...PG_DEFAULT, fpw: false, seed: 4, crashes: 3, loadMs: 1000, accounts: 5000, settings: { shared_buffers: '32MB' }, nsze: 1 << 17 };
    const id = pgReplayId(cfg, 2);
    expect(id).toMatch(/^pg:consumer-tlc:fpw=off:checkpoint:w~[A-Za-z0-9_-]+:seed=4:cycle=2$/);
    const back = parsePgReplayId(id).cfg;
    expect(back).toMatchObject({ loadMs: 1000, accounts: 5000, settings: { shared_buffers: '32MB' }, nsze: 1 << 17, clients: PG_DEFAULT.clients });
    expect(pgReplayId(back, 2)).toBe(id);
    // Default fields leave the id as it always was.
    expect(pgReplayId({ ...cfg, loadMs: PG_DEFAULT.loadMs, accounts: PG_DEFAULT.accounts, settings: {}, nsze: undefined }, 2)).toBe('pg:consumer-tlc:fpw=off:checkpoint:seed=4:cycle=2');
  });

  test('mariadb: buffer pool, redo, load', () => {
    const cfg = { ...MARIADB_DEFAULT, doublewrite: false, seed: 1, crashes: 1, bufferPoolMiB: 128, redoMiB: 64, loadMs: 3000 };
    const id = replayIdOf(cfg, 0);
    expect(id).toMatch(/:flush:w~[A-Za-z0-9_-]+:seed=1:cycle=0$/);
    expect(parseMariadbReplayId(id).cfg).toMatchObject({ bufferPoolMiB: 128, redoMiB: 64, loadMs: 3000 });
  });

  test('a w~ segment that does not decode, names an unknown field or has the wrong type is refused', () => {
    const seg = (o: unknown) => 'w~' + Buffer.from(JSON.stringify(o)).toString('base64url');
    expect(() => parsePgReplayId('pg:consumer-tlc:fpw=off:checkpoint:w~AAAA:seed=1:cycle=0')).toThrow(/cell fields \(after w~\) do not decode/);
    expect(() => parsePgReplayId(`pg:consumer-tlc:fpw=off:checkpoint:${seg({ bogus: 1 })}:seed=1:cycle=0`)).toThrow(/name "bogus", which this engine does not know/);
    expect(() => parsePgReplayId(`pg:consumer-tlc:fpw=off:checkpoint:${seg({ loadMs: '5' })}:seed=1:cycle=0`)).toThrow(/give loadMs a value of the wrong type/);
    expect(() => parsePgReplayId(`pg:consumer-tlc:fpw=off:checkpoint:${seg({ settings: { a: 1 } })}:seed=1:cycle=0`)).toThrow(/give settings a value of the wrong type/);
  });
});

describe('tornlab replay of a real-database cycle it cannot rerun', () => {
  const cli = path.join(__dirname, '../../dist/src/cli/main.js');
  test.each([
    ['sqlite:journal=WAL sync=FULL page=16384:seed=1:cycle=0', /names cycle 0 of a tornlab sqlite run but not all of its configuration.*tornlab sqlite.*--seed/],
    ['exec:seed=7:cycle=2', /names cycle 2 of a tornlab exec run but not all of its configuration.*tornlab exec with the same commands/],
    ['nosuchdb:x:seed=1:cycle=0', /no real database of kind "nosuchdb" \(kinds: pg, mariadb, sqlite, exec/],
    ['pg:consumer-tlc:fpw=on:checkpoint:seed=01:cycle=0', /is not in canonical form; the same cycle is pg:consumer-tlc:fpw=on:checkpoint:seed=1:cycle=0/],
  ])('%s: exit 2 saying what to do', (id, msg) => {
    const r = spawnSync(process.execPath, [cli, 'replay', id], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toMatch(msg);
    expect(r.status).toBe(2);
  });

  test('--dump means nothing for a real-database cycle', () => {
    const r = spawnSync(process.execPath, [cli, 'replay', 'pg:consumer-tlc:fpw=on:checkpoint:seed=1:cycle=0', '--dump', '/nonexistent/x'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toMatch(/--dump does nothing for a real-database cycle/);
    expect(r.status).toBe(2);
  });
});
