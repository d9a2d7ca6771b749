/**
 * MariaDB as a real-database adapter (src/crash/adapter.ts
 * RealDatabaseAdapter): what the campaign's one real-database lane needs of
 * a MariaDB cell and its `mariadb:` section of campaign files — and nothing
 * more.
 */
import type { RealDatabaseAdapter } from '../../src/crash/adapter';
import { CampaignSection, PROFILE_LIST_SCHEMA, ProfileEntry, profileOf } from '../../src/crash/campaign-section';
import { BadInputError } from '../../src/util/errors';
import type { CellMeasurements } from '../../src/report/build';
import { containerUnavailable } from '../../src/export/containers/availability';
import type { CycleSummary } from '../common/measurements';
import { mariadbCycleSummary, mariadbMeasurementsOf } from './campaign';
import { MARIADB_VERSIONS, mariadbImageName } from './container-server';
import { CRASH_ATS, CellResult, CrashAt, CycleResult, DEFAULT_CELL, FLUSH_METHODS, FlushMethod, MariadbCellConfig, containerMariadbVersion, parseMariadbReplayId, replayIdOf, runMariadbCell, runtimeTag, validateCell } from './cycle';
import { missingForMariadb } from './runtime';
import { kib } from '../common/cycle-result';

/** A campaign file's `mariadb:` section: innodb_doublewrite on/off x profiles, `crashes` crash cycles each. */
export interface MariadbSection {
  doublewrite: ('on' | 'off')[];
  profiles?: ProfileEntry[];
  crashes?: number;
  seed?: number;
  crashAt?: CrashAt;
  flushMethod?: FlushMethod;
  pageSize?: number;
  mkfsOptions?: string[];
  runtime?: 'local' | 'container';
  versions?: string[];
}

const section: CampaignSection<MariadbCellConfig> = {
  key: 'mariadb',
  title: 'MariaDB',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['doublewrite'],
    properties: {
      doublewrite: { type: 'array', minItems: 1, items: { type: 'string', enum: ['on', 'off'] } },
      profiles: PROFILE_LIST_SCHEMA,
      crashes: { type: 'integer', minimum: 1, maximum: 1000 },
      seed: { type: 'integer', minimum: 0 },
      crashAt: { type: 'string', enum: [...CRASH_ATS] },
      flushMethod: { type: 'string', enum: [...FLUSH_METHODS] },
      pageSize: { type: 'integer', enum: [4096, 8192, 16384, 32768, 65536] },
      mkfsOptions: { type: 'array', items: { type: 'string', minLength: 1 } },
      runtime: { type: 'string', enum: ['local', 'container'] },
      versions: { type: 'array', minItems: 1, items: { type: 'string', enum: [...MARIADB_VERSIONS] } },
    },
  },
  expand(m: MariadbSection, top) {
    if (m.versions && m.runtime !== 'container') throw new BadInputError("mariadb.versions needs runtime: container (the local runtime runs the host's mariadb-server)");
    const out: MariadbCellConfig[] = [];
    // One cell per version (container), versions outermost.
    const runtimes: Pick<MariadbCellConfig, 'runtime' | 'mariadbVersion'>[] = m.runtime === 'container' ? (m.versions ?? ['10.11']).map((v) => ({ runtime: 'container' as const, mariadbVersion: v })) : [{}];
    for (const rt of runtimes) {
      for (const pEntry of m.profiles ?? top.profiles) {
        const { profile, faults } = profileOf(pEntry);
        for (const dw of m.doublewrite) {
          const cfg: MariadbCellConfig = {
            ...DEFAULT_CELL,
            profile,
            faults,
            doublewrite: dw === 'on',
            seed: m.seed ?? top.seed ?? 1,
            crashes: m.crashes ?? 4,
            crashAt: m.crashAt ?? 'flush',
            flushMethod: m.flushMethod ?? DEFAULT_CELL.flushMethod,
            pageSize: m.pageSize ?? DEFAULT_CELL.pageSize,
            mkfsOptions: (m.mkfsOptions ?? []).flatMap((o) => o.split(/\s+/).filter(Boolean)),
            ...rt,
          };
          validateCell(cfg);
          out.push(cfg);
        }
      }
    }
    return out;
  },
};

/** A cycle in one line: verdict (and outage), cut, dirty pages, acknowledged commits, device bytes, time, the first finding and the replay id. */
export function formatMariadbCycleLine(c: CycleResult): string {
  const first = c.verdict === 'ok' ? '' : `  ${c.findings[0] ?? c.messages[0] ?? ''}`;
  return `cycle ${c.cycle}: ${c.verdict.padEnd(19)}${c.outage ? ' (outage)' : ''} cut ${c.cut.trigger}, ${c.cut.dirtyPages} dirty pages, ${c.workload.acked} acked, device ${kib(c.device.load.hostWriteBytes)} + ${kib(c.device.recovery.hostWriteBytes)} recovery, ${(c.ms.total / 1000).toFixed(1)} s${first}  [${c.replayId}]`;
}

export const mariadbAdapter: RealDatabaseAdapter<MariadbCellConfig, CycleResult, CellResult, CycleSummary, CellMeasurements> = {
  kind: 'mariadb',
  command: 'mariadb',
  crashes: (cfg) => cfg.crashes,
  replayId: replayIdOf,
  // As for PostgreSQL: the same seeded choices; the server's timing is not under the seed.
  replay: { cell: (id) => parseMariadbReplayId(id).cfg, lines: (c) => [formatMariadbCycleLine(c), ...c.messages.slice(0, 8).map((m) => `  ${m}`)] },
  describe: (cfg) => `mariadb${runtimeTag(cfg)} doublewrite=${cfg.doublewrite ? 'on' : 'off'} on ${cfg.profile}`,
  unavailable: async (cfg) => (cfg.runtime === 'container' ? containerUnavailable(mariadbImageName(containerMariadbVersion(cfg))) : undefined),
  missing: (cfg) => (cfg.runtime === 'container' ? [] : missingForMariadb()),
  runCell: (cfg, o) => runMariadbCell(cfg, { owns: o.owns, onCycle: o.onCycle }),
  summary: mariadbCycleSummary,
  measure: mariadbMeasurementsOf,
  campaignSection: section,
};
