/**
 * A real-database engine's section of a campaign file (`postgres:`,
 * `mariadb:`, `sqlite:`): the part of the crash contract that lets the
 * campaign read a matrix of real-database cells without knowing any engine.
 * The engine declares the section's key, its JSON Schema and how it expands
 * into cells; src/campaign/campaign-file.ts composes the file's schema from
 * the registered sections (engines/registry.ts).
 *
 * Invariants:
 *  1. expand(section, top, source) is a pure function of its arguments: the
 *     same file expands to the same cells, in file order.
 *  2. A bad section is a BadInputError that names `<key>.<field>` and the
 *     fix, raised by expand before any cell runs (checkCampaign calls it).
 */
import { BadInputError } from '../util/errors';
import { canonicalFaults } from './faults';

/** A profile, by name or with fault switches: `consumer-tlc` or `{profile: consumer-tlc, faults: [lying-flush]}`. */
export type ProfileEntry = string | { profile: string; faults?: string[] };

/** The JSON Schema of one profile entry. */
export const PROFILE_ENTRY_SCHEMA = {
  anyOf: [
    { type: 'string' },
    { type: 'object', additionalProperties: false, required: ['profile'], properties: { profile: { type: 'string' }, faults: { type: 'array', items: { type: 'string' } } } },
  ],
} as const;

/** The JSON Schema of a non-empty profile list. */
export const PROFILE_LIST_SCHEMA = { type: 'array', minItems: 1, items: PROFILE_ENTRY_SCHEMA } as const;

export function profileOf(e: ProfileEntry): { profile: string; faults: string[] } {
  return typeof e === 'string' ? { profile: e, faults: [] } : { profile: e.profile, faults: e.faults ?? [] };
}

/** The identity of a profile entry (profile and faults in canonical order): two entries with one key make one cell id. */
export function profileKey(e: ProfileEntry): string {
  const { profile, faults } = profileOf(e);
  return [profile, ...canonicalFaults(faults)].join('+');
}

/** Refuse a factor list that names the same thing twice (two cells with one id, refused only in the report). */
export function refuseDuplicates<T>(source: string, key: string, items: readonly T[] | undefined, id: (t: T) => string, why = ''): void {
  const seen = new Set<string>();
  for (const it of items ?? []) {
    const k = id(it);
    if (seen.has(k)) throw new BadInputError(`${source}: ${key} lists ${JSON.stringify(k)} twice${why}; list each once`);
    seen.add(k);
  }
}

/** What a section may read of the rest of the campaign file: its defaults. */
export interface CampaignTop {
  /** The campaign's profiles (a section without `profiles` uses them). */
  profiles: readonly ProfileEntry[];
  seed?: number;
}

export interface CampaignSection<Cfg> {
  /** The section's key in campaign files. */
  key: string;
  /** The engine as a count names it: "3 PostgreSQL". */
  title: string;
  /** The section's JSON Schema (an object schema; ajv checks it with the rest of the file). */
  schema: Record<string, unknown>;
  /** The section's cells, in file order (invariants 1, 2). `section` has passed `schema`. */
  expand(section: any, top: CampaignTop, source: string): Cfg[];
}
