/**
 * The registry of real-database adapters (src/crash/adapter.ts
 * RealDatabaseAdapter), by the part kind their cells have in shard files.
 * The campaign's real-database lane reaches the engines only through here.
 */
import type { RealDatabaseAdapter } from '../src/crash/adapter';
import { mariadbAdapter } from './mariadb/adapter';
import { pgAdapter } from './postgres/adapter';

export const REAL_DATABASES = { pg: pgAdapter, mariadb: mariadbAdapter } as const satisfies Record<string, RealDatabaseAdapter>;

export type RealDatabaseKind = keyof typeof REAL_DATABASES;
