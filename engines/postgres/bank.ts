/**
 * The bank-transfer workload's PostgreSQL side: schema, transfer statement
 * and oracle (the workload itself is engines/common/bank-workload.ts).
 *
 * Schema: accounts(id, balance, filler) with every balance starting at
 * INITIAL_BALANCE; transfers(id, src, dst, amount), one row per committed
 * transfer. A transfer is one statement (so one transaction): both balance
 * updates and its transfers row, all or nothing. Rows are updated in id order
 * (index scan on id IN (a, b)), so concurrent transfers cannot deadlock.
 *
 * Oracle, after recovery:
 * - every transfer whose commit was acknowledged before the cut has its row
 *   (else lost-commit);
 * - the balances sum to accounts * INITIAL_BALANCE, and each account's balance
 *   equals INITIAL_BALANCE plus what the present transfers moved (else a
 *   transaction is partly visible: atomicity-violation);
 * - all accounts are there.
 * A commit acknowledged after the cut instant is in doubt: present or absent
 * are both correct. The cut instant is the FUSE handler that cut (this
 * process is single-threaded, so "before" is well defined).
 */
import { Client } from './pg-client';
import { INITIAL_BALANCE, OracleResult, TransferFn } from '../common/bank-workload';

export type { OracleResult };

export function schemaSql(accounts: number): string {
  return `
    CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, filler text NOT NULL);
    INSERT INTO accounts SELECT g, ${INITIAL_BALANCE}, repeat('x', 100) FROM generate_series(1, ${accounts}) g;
    CREATE TABLE transfers (id bigint PRIMARY KEY, src int NOT NULL, dst int NOT NULL, amount int NOT NULL);
    CREATE EXTENSION IF NOT EXISTS amcheck;
    CREATE EXTENSION IF NOT EXISTS pg_buffercache;
  `;
}

const TRANSFER_SQL = `
  WITH u AS (
    UPDATE accounts SET balance = balance + CASE WHEN id = $1 THEN -$3::bigint ELSE $3::bigint END
    WHERE id IN ($1, $2) RETURNING 1)
  INSERT INTO transfers (id, src, dst, amount) SELECT $4, $1, $2, $3 WHERE (SELECT count(*) FROM u) = 2`;

export const pgTransfer: TransferFn<Client> = (client, src, dst, amount, id) => client.query(TRANSFER_SQL, [src, dst, amount, id]);

/** Check the oracle on a recovered server. Reads every heap page of both tables (sequential scans). */
export async function checkOracle(client: Client, accounts: number, acked: readonly number[]): Promise<OracleResult> {
  const res: OracleResult = { lostCommits: [], balanceSum: 0n, expectedSum: BigInt(accounts) * BigInt(INITIAL_BALANCE), accountRows: 0, inconsistentAccounts: 0, presentTransfers: 0, queryErrors: [] };
  const q = async <T>(sql: string, f: (rows: Record<string, unknown>[]) => T): Promise<T | undefined> => {
    try {
      return f((await client.query(sql)).rows);
    } catch (e) {
      res.queryErrors.push((e as Error).message);
      return undefined;
    }
  };
  await q('SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off', () => undefined);
  const present = await q('SELECT id FROM transfers', (rows) => new Set(rows.map((r) => Number(r.id))));
  if (present) {
    res.presentTransfers = present.size;
    res.lostCommits = acked.filter((id) => !present.has(id));
  }
  await q('SELECT count(*) AS n, coalesce(sum(balance), 0) AS s FROM accounts', (rows) => {
    res.accountRows = Number(rows[0].n);
    res.balanceSum = BigInt(rows[0].s as string);
  });
  await q(
    `SELECT count(*) AS n FROM accounts a LEFT JOIN (
       SELECT acct, sum(delta) AS d FROM (SELECT src AS acct, -amount AS delta FROM transfers UNION ALL SELECT dst, amount FROM transfers) x GROUP BY acct
     ) t ON t.acct = a.id
     WHERE a.balance <> ${INITIAL_BALANCE} + coalesce(t.d, 0)`,
    (rows) => {
      res.inconsistentAccounts = Number(rows[0].n);
    },
  );
  return res;
}
