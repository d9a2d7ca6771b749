/**
 * MariaDB's load and its oracle: the bank ledger of engines/postgres/bank.ts
 * (same accounts/transfers schema, same acknowledged-commit bookkeeping, one
 * transaction per transfer) in InnoDB tables, plus a sysbench-like OLTP write
 * mix (oltp_write_only: index update, non-index update, delete + insert of a
 * row, one transaction) that spreads dirty pages over a secondary index too.
 *
 * Each transfer also adds its amount to one of BRANCHES rows of a small
 * `branches` table (TPC-B's branch update): a hot page in a small tablespace,
 * the kind a file system places off an atomic boundary.
 *
 * Oracle, after recovery:
 *  1. every transfer acknowledged before the cut has its row (else lost-commit);
 *  2. balances sum to accounts * INITIAL_BALANCE and each balance agrees with
 *     the transfers present (else atomicity-violation);
 *  3. each branch's total equals the amounts of the transfers present that
 *     name it (else atomicity-violation);
 *  4. the OLTP table still has exactly its initial row count (a delete without
 *     its insert, or the reverse, is a partial transaction).
 * Reads force full scans of the clustered index (IGNORE INDEX), so every leaf
 * page of both tables is read.
 */
import { INITIAL_BALANCE, OracleResult, TransferFn } from '../common/bank-workload';
import { Prng } from '../../src/util/prng';
import type { Connection } from './server';

export { INITIAL_BALANCE };

/** Rows of the branches table; transfer src s counts in branch (s mod BRANCHES) + 1. */
export const BRANCHES = 8;

/** Rows of the OLTP table (sysbench's sbtest1 shape). */
export const OLTP_ROWS = 10000;

export function schemaSql(accounts: number): string[] {
  const filler = "REPEAT('x', 100)";
  return [
    'CREATE DATABASE tornlab',
    'USE tornlab',
    'CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL, filler VARCHAR(200) NOT NULL) ENGINE=InnoDB',
    `INSERT INTO accounts SELECT seq, ${INITIAL_BALANCE}, ${filler} FROM seq_1_to_${accounts}`,
    'CREATE TABLE transfers (id BIGINT PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL) ENGINE=InnoDB',
    'CREATE TABLE branches (id INT PRIMARY KEY, moved BIGINT NOT NULL) ENGINE=InnoDB',
    `INSERT INTO branches SELECT seq, 0 FROM seq_1_to_${BRANCHES}`,
    'CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, KEY k_1 (k)) ENGINE=InnoDB',
    `INSERT INTO sbtest1 SELECT seq, seq MOD ${OLTP_ROWS}, REPEAT(CHAR(97 + seq MOD 26), 120), REPEAT('p', 60) FROM seq_1_to_${OLTP_ROWS}`,
  ];
}

/** One transfer, one transaction: account rows updated in id order (one statement), its ledger row, its branch. */
export const mariadbTransfer: TransferFn<Connection> = (c, src, dst, amount, id) =>
  c.query(
    'START TRANSACTION; UPDATE tornlab.accounts SET balance = balance + IF(id = ?, -?, ?) WHERE id IN (?, ?); INSERT INTO tornlab.transfers (id, src, dst, amount) VALUES (?, ?, ?, ?); UPDATE tornlab.branches SET moved = moved + ? WHERE id = ?; COMMIT',
    [src, amount, amount, src, dst, id, src, dst, amount, amount, (src % BRANCHES) + 1],
  );

/** The OLTP write mix on its own connections, until stopped or the connection dies. */
export class OltpWriteMix {
  transactions = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly prng: Prng) {}

  start(clients: Connection[]): void {
    clients.forEach((c, i) => this.loops.push(this.loop(c, this.prng.fork(`oltp${i}`))));
  }

  stop(): void {
    this.stopped = true;
  }

  settled(): Promise<void> {
    return Promise.all(this.loops).then(() => undefined);
  }

  private async loop(c: Connection, prng: Prng): Promise<void> {
    while (!this.stopped) {
      const id = prng.int(1, OLTP_ROWS);
      const other = prng.int(1, OLTP_ROWS);
      const ch = String.fromCharCode(97 + prng.int(0, 25)).repeat(120);
      try {
        await c.query(
          'START TRANSACTION; UPDATE tornlab.sbtest1 SET k = k + 1 WHERE id = ?; UPDATE tornlab.sbtest1 SET c = ? WHERE id = ?; DELETE FROM tornlab.sbtest1 WHERE id = ?; INSERT INTO tornlab.sbtest1 (id, k, c, pad) VALUES (?, ?, ?, ?); COMMIT',
          [id, ch, other, id, id, prng.int(1, OLTP_ROWS), ch, 'p'.repeat(60)],
        );
        this.transactions++;
      } catch (e) {
        // A deadlock or lock wait timeout rolled the transaction back: go on; anything else ends the loop.
        const errno = (e as { errno?: number }).errno;
        if (errno === 1213 || errno === 1205) {
          await c.query('ROLLBACK').catch(() => undefined);
          continue;
        }
        return;
      }
    }
  }
}

export interface MariadbOracle extends OracleResult {
  oltpRows: number;
  /** Branches whose total disagrees with the transfers present. */
  inconsistentBranches: number;
}

/** Check the oracle on a recovered server. */
export async function checkOracle(c: Connection, accounts: number, acked: readonly number[]): Promise<MariadbOracle> {
  const res: MariadbOracle = { lostCommits: [], balanceSum: 0n, expectedSum: BigInt(accounts) * BigInt(INITIAL_BALANCE), accountRows: 0, inconsistentAccounts: 0, presentTransfers: 0, queryErrors: [], oltpRows: -1, inconsistentBranches: 0 };
  const q = async <T>(sql: string, f: (rows: Record<string, unknown>[]) => T): Promise<T | undefined> => {
    try {
      return f((await c.query({ sql, rowsAsArray: false })) as Record<string, unknown>[]);
    } catch (e) {
      res.queryErrors.push((e as Error).message);
      return undefined;
    }
  };
  const present = await q('SELECT id FROM tornlab.transfers IGNORE INDEX (PRIMARY)', (rows) => new Set(rows.map((r) => Number(r.id))));
  if (present) {
    res.presentTransfers = present.size;
    res.lostCommits = acked.filter((id) => !present.has(id));
  }
  await q('SELECT COUNT(*) AS n, COALESCE(SUM(balance), 0) AS s FROM tornlab.accounts', (rows) => {
    res.accountRows = Number(rows[0].n);
    res.balanceSum = BigInt(String(rows[0].s));
  });
  await q(
    `SELECT COUNT(*) AS n FROM tornlab.accounts a LEFT JOIN (
       SELECT acct, SUM(delta) AS d FROM (SELECT src AS acct, -amount AS delta FROM tornlab.transfers UNION ALL SELECT dst, amount FROM tornlab.transfers) x GROUP BY acct
     ) t ON t.acct = a.id
     WHERE a.balance <> ${INITIAL_BALANCE} + COALESCE(t.d, 0)`,
    (rows) => {
      res.inconsistentAccounts = Number(rows[0].n);
    },
  );
  await q(
    `SELECT COUNT(*) AS n FROM tornlab.branches b LEFT JOIN (
       SELECT (src MOD ${BRANCHES}) + 1 AS branch, SUM(amount) AS m FROM tornlab.transfers GROUP BY branch
     ) t ON t.branch = b.id
     WHERE b.moved <> COALESCE(t.m, 0)`,
    (rows) => {
      res.inconsistentBranches = Number(rows[0].n);
    },
  );
  await q('SELECT COUNT(*) AS n FROM tornlab.sbtest1', (rows) => {
    res.oltpRows = Number(rows[0].n);
  });
  return res;
}
