/**
 * The registry of engines: the one place that names them. The campaign
 * (src/campaign) reaches every engine through here, by name for the
 * in-process engines (src/crash/adapter.ts EngineAdapter) and by part kind
 * for the real databases (RealDatabaseAdapter); it names none itself.
 *
 * Order matters: a campaign runs its real-database cells in the order of
 * REAL_DATABASES, and a campaign file's sections are checked in that order.
 */
import type { EngineAdapter, RealDatabaseAdapter } from '../src/crash/adapter';
import type { CellMeasurements } from '../src/report/build';
import { mariadbAdapter } from './mariadb/adapter';
import { pgAdapter } from './postgres/adapter';
import { sqliteAdapter } from './sqlite/adapter';
import { execAdapter } from './exec/adapter';

/** In-process engines, loaded lazily so that `tornlab identify` does not load one. */
const IN_PROCESS: Record<string, () => EngineAdapter> = {
  minipage: () => require('./minipage/adapter').minipageAdapter as EngineAdapter,
};

export function inProcessEngineNames(): string[] {
  return Object.keys(IN_PROCESS);
}

/** The in-process engine of that name, or undefined. */
export function inProcessEngine(name: string): EngineAdapter | undefined {
  return IN_PROCESS[name]?.();
}

export type RealDatabase = RealDatabaseAdapter<any, any, any, any, CellMeasurements>;

export const REAL_DATABASES: readonly RealDatabase[] = [pgAdapter, mariadbAdapter, sqliteAdapter, execAdapter];

/** The real-database adapter of a part kind ('pg', 'mariadb', 'sqlite', 'exec'), or undefined. */
export function realDatabase(kind: string): RealDatabase | undefined {
  return REAL_DATABASES.find((a) => a.kind === kind);
}
