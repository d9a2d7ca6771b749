/**
 * The part of the `pg` client library used here, typed locally (the package
 * ships no types and this keeps @types/pg out of the shared dependencies).
 */
export interface QueryResult {
  rows: Record<string, unknown>[];
}

export interface Client {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<QueryResult>;
  end(): Promise<void>;
  on(event: 'error', listener: (e: Error) => void): void;
}

export interface ClientConfig {
  host: string;
  port: number;
  user: string;
  database: string;
  connectionTimeoutMillis?: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pg = require('pg') as { Client: new (cfg: ClientConfig) => Client };

export function newClient(cfg: ClientConfig): Client {
  return new pg.Client(cfg);
}
