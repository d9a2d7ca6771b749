/**
 * Container crash cycles against local ones (issue 12), as ratios in one run:
 *   npm run bench:containers   (= npm run build && node dist/bench/containers.js [pgCycles] [sqliteCycles] [mariadbCycles])
 *  1. PostgreSQL, full_page_writes=on on consumer-tlc: median crash-cycle time
 *     of each container version against the local runtime (target <= 1.3x);
 *     runtimes interleaved cell by cell so a load swing hits both.
 *  2. SQLite WAL + synchronous=FULL: crash cycles per minute, local against
 *     container (a fresh container for the load child and the verify child).
 *  3. MariaDB, innodb_doublewrite=1 on consumer-tlc (the full verify: oracle,
 *     CHECK TABLE, clean shutdown, innochecksum): median crash-cycle time of
 *     10.11 and 11.8 in containers against the local 10.11, interleaved, with
 *     the phases' medians.
 * A count of 0 leaves that part out.
 * Needs what the container tests need (tornlab containers setup); a runtime
 * that cannot run is left out with one line.
 */
import { DEFAULT_CELL, PgCellConfig } from '../engines/postgres/config';
import { runPgCell } from '../engines/postgres/cycle';
import { missingForPostgres } from '../engines/postgres/runtime';
import { runSqliteCampaign } from '../engines/sqlite/campaign';
import { resolveSqliteRuntime, SqliteRuntime } from '../engines/sqlite/runtime';
import { openDeviceStorage } from '../engines/common/device-storage';
import { containerUnavailable } from '../src/export/containers/availability';
import { settle } from '../src/export/containers/containers';
import { ImageName } from '../src/export/containers/images';
import { runLedger } from '../src/export';
import { DEFAULT_CELL as MARIADB_CELL, MariadbCellConfig, runMariadbCell } from '../engines/mariadb/cycle';
import { missingForMariadb } from '../engines/mariadb/runtime';
import { mariadbImageName } from '../engines/mariadb/container-server';
import { median } from '../src/util/percentile';

/** MariaDB local against containers: the base images first (not timed), then cycles interleaved runtime by runtime. */
async function mariadb(cycles: number): Promise<void> {
  const runtimes: { name: string; cfg: Partial<MariadbCellConfig> }[] = [];
  if (missingForMariadb().length === 0) runtimes.push({ name: 'local', cfg: {} });
  else console.log('mariadb local: left out (no local mariadb-server)');
  for (const v of ['10.11', '11.8']) {
    const why = await containerUnavailable(mariadbImageName(v));
    if (why) console.log(`mariadb${v} container: left out: ${why}`);
    else runtimes.push({ name: `container ${v}`, cfg: { runtime: 'container', mariadbVersion: v } });
  }
  const cell = (rt: Partial<MariadbCellConfig>, crashes: number): MariadbCellConfig => ({ ...MARIADB_CELL, doublewrite: true, seed: 7, crashes, ...rt });
  const runs = new Map<string, Awaited<ReturnType<typeof runMariadbCell>>['cycles']>();
  for (const rt of runtimes) {
    const r = await runMariadbCell(cell(rt.cfg, 1));
    console.log(`mariadb ${rt.name.padEnd(15)} base image ${(r.base.buildMs / 1000).toFixed(1)} s`);
    runs.set(rt.name, []);
  }
  for (let i = 0; i < cycles; i++) {
    for (const rt of runtimes) {
      const r = await runMariadbCell(cell(rt.cfg, i + 1), { fromCycle: i });
      runs.get(rt.name)!.push(r.cycles[0]);
    }
  }
  const local = runs.has('local') ? median(runs.get('local')!.map((c) => c.ms.total)) : undefined;
  const phases = ['start', 'load', 'cut', 'recovery', 'verify'] as const;
  for (const [name, cs] of runs) {
    const m = median(cs.map((c) => c.ms.total));
    const verdicts = cs.map((c) => c.verdict).filter((v) => v !== 'ok');
    console.log(`mariadb ${name.padEnd(15)} median cycle ${(m / 1000).toFixed(2)} s over ${cs.length}${local ? `, ${(m / local).toFixed(2)}x local` : ''}; phases ${phases.map((p) => `${p} ${(median(cs.map((c) => c.ms[p])) / 1000).toFixed(2)}`).join(', ')}${verdicts.length ? `; not ok: ${verdicts.join(', ')}` : ''}`);
  }
}

async function main(): Promise<void> {
  const pgCycles = Number(process.argv[2] ?? 3);
  const sqCycles = Number(process.argv[3] ?? 8);
  const mariadbCycles = Number(process.argv[4] ?? 3);
  const runtimes: { name: string; cfg: Partial<PgCellConfig> }[] = [];
  if (pgCycles > 0 && missingForPostgres().length === 0) runtimes.push({ name: 'local', cfg: {} });
  else if (pgCycles > 0) console.log('pg local: left out (no local PostgreSQL 15)');
  for (const v of pgCycles > 0 ? ['15', '17', '18'] : []) {
    const why = await containerUnavailable(`pg${v}` as ImageName);
    if (why) console.log(`pg${v} container: left out: ${why}`);
    else runtimes.push({ name: `container ${v}`, cfg: { runtime: 'container', pgVersion: v } });
  }
  // Base images first (not timed), then the cycles interleaved.
  const ms = new Map<string, number[]>();
  for (const rt of runtimes) {
    await runPgCell({ ...DEFAULT_CELL, fpw: true, seed: 7, crashes: 1, ...rt.cfg });
    ms.set(rt.name, []);
  }
  for (let i = 0; i < pgCycles; i++) {
    for (const rt of runtimes) {
      const r = await runPgCell({ ...DEFAULT_CELL, fpw: true, seed: 7, crashes: i + 1, ...rt.cfg }, { fromCycle: i });
      ms.get(rt.name)!.push(r.cycles[0].ms.total);
    }
  }
  const local = ms.has('local') ? median(ms.get('local')!) : undefined;
  for (const [name, xs] of ms) {
    const m = median(xs);
    console.log(`pg ${name.padEnd(13)} median cycle ${(m / 1000).toFixed(2)} s over ${xs.length}${local ? `, ${(m / local).toFixed(2)}x local` : ''}`);
  }
  const rates: Record<string, number> = {};
  for (const rt of (sqCycles > 0 ? ['local', 'container', 'local', 'container'] : []) as SqliteRuntime[]) {
    if (rt === 'container') {
      const why = await containerUnavailable('sqlite');
      if (why) {
        console.log(`sqlite container: left out: ${why}`);
        continue;
      }
      await resolveSqliteRuntime('container');
    }
    const r = await runSqliteCampaign({
      cell: { journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 },
      crashes: sqCycles,
      seed: 5,
      cycle: { armedCutWaitMs: 500, runtime: rt },
      openStorage: (k) => openDeviceStorage({ profile: 'consumer-tlc', seed: 5 + k, sample: k }),
    });
    await settle();
    rates[rt] = (rates[rt] ?? 0) + r.cyclesPerMinute / 2;
  }
  for (const [rt, v] of Object.entries(rates)) console.log(`sqlite ${rt.padEnd(9)} ${v.toFixed(1)} crash cycles/min${rt === 'container' && rates.local ? `, ${(rates.local / v).toFixed(2)}x local cycle time` : ''}`);
  if (mariadbCycles > 0) await mariadb(mariadbCycles);
  await settle();
  runLedger().close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(3);
  },
);
