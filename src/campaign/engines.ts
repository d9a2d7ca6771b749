/**
 * The engines a campaign can run, by name. Real-database engines (postgres,
 * sqlite, exec) have their own commands; the in-process crash-state machinery
 * here serves engines whose crash states can be rebuilt in memory.
 */
import { BadInputError } from '../util/errors';
import { EngineAdapter } from '../crash/adapter';

const loaders: Record<string, () => EngineAdapter> = {
  // Loaded lazily so that `tornlab identify` does not load the engine.
  minipage: () => require('../../engines/minipage/adapter').minipageAdapter as EngineAdapter,
};

export function engineNames(): string[] {
  return Object.keys(loaders);
}

export function getAdapter(name: string): EngineAdapter {
  const load = loaders[name];
  if (!load) throw new BadInputError(`unknown engine "${name}" for tornlab run; engines: ${engineNames().join(', ')} (PostgreSQL: tornlab pg, SQLite: tornlab sqlite, your own: tornlab exec)`);
  return load();
}
