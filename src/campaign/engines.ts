/**
 * The engines a campaign can run, by name: an in-process engine for
 * `engine:` / `tornlab run`, a real-database adapter for a shard part's
 * kind. The engines themselves are listed in engines/registry.ts; nothing
 * in src/campaign names one.
 */
import { BadInputError } from '../util/errors';
import { EngineAdapter } from '../crash/adapter';
import { REAL_DATABASES, RealDatabase, inProcessEngine, inProcessEngineNames, realDatabase } from '../../engines/registry';

export type { RealDatabase };
export { REAL_DATABASES };

/** The in-process engine a campaign file without `engine:` runs (the registry's first). */
export const DEFAULT_ENGINE = inProcessEngineNames()[0];

export function engineNames(): string[] {
  return inProcessEngineNames();
}

export function getAdapter(name: string): EngineAdapter {
  const adapter = inProcessEngine(name);
  if (!adapter) throw new BadInputError(`unknown engine "${name}" for tornlab run; engines: ${engineNames().join(', ')} (real databases have commands of their own: ${REAL_DATABASES.map((a) => `tornlab ${a.command}`).join(', ')})`);
  return adapter;
}

/** The real-database adapter of a shard part's kind; another kind means a shard file of another tornlab. */
export function realDatabaseOf(kind: string): RealDatabase {
  const a = realDatabase(kind);
  if (!a) throw new BadInputError(`a shard part of kind "${kind}", which this tornlab does not know (kinds: states, ${REAL_DATABASES.map((x) => x.kind).join(', ')}); merge shards of one tornlab version`);
  return a;
}
