/**
 * The bank-transfer workload and its oracle.
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
import { Prng } from '../../src/util/prng';

export const INITIAL_BALANCE = 1000;

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

export interface BankRun {
  /** Transfers acknowledged before the cut. */
  acked: number[];
  /** Transfers submitted (acknowledged or not). */
  attempted: number;
  /** Transfers whose statement failed before the cut (e.g. a checksum error surfaced to a client). */
  errorsBeforeCut: string[];
}

/** One transfer as one transaction on a client: move `amount` from `src` to `dst`, recorded as transfer `id`. */
export type TransferFn<C> = (client: C, src: number, dst: number, amount: number, id: number) => Promise<unknown>;

const pgTransfer: TransferFn<Client> = (client, src, dst, amount, id) => client.query(TRANSFER_SQL, [src, dst, amount, id]);

/**
 * Runs transfers on `clients` connections until stopped; knows which commits
 * were acknowledged before the cut. The transfer statement is PostgreSQL's
 * unless another engine (engines/mariadb) passes its own.
 */
export class BankWorkload<C = Client> {
  readonly acked: number[] = [];
  /** Wall-clock commit latency of each acknowledged transfer, microseconds. */
  readonly latenciesUs: number[] = [];
  attempted = 0;
  readonly errorsBeforeCut: string[] = [];
  private stopped = false;
  private cutHappened = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly accounts: number,
    private readonly prng: Prng,
    private readonly transfer: TransferFn<C> = pgTransfer as unknown as TransferFn<C>,
  ) {}

  /** Mark the cut instant: acknowledgements that arrive from now on do not count. */
  markCut(): void {
    this.cutHappened = true;
    this.stopped = true;
  }

  start(clients: C[]): void {
    const n = clients.length;
    clients.forEach((client, c) => {
      const prng = this.prng.fork(`client${c}`);
      this.loops.push(this.loop(client, c, n, prng));
    });
  }

  private async loop(client: C, c: number, n: number, prng: Prng): Promise<void> {
    for (let k = 0; !this.stopped; k++) {
      const id = k * n + c + 1;
      const a = prng.int(1, this.accounts);
      let b = prng.int(1, this.accounts - 1);
      if (b >= a) b++;
      const amount = prng.int(1, 100);
      this.attempted++;
      try {
        const t0 = process.hrtime.bigint();
        await this.transfer(client, a, b, amount, id);
        if (!this.cutHappened) {
          this.acked.push(id);
          this.latenciesUs.push(Number(process.hrtime.bigint() - t0) / 1000);
        }
      } catch (e) {
        if (!this.cutHappened) this.errorsBeforeCut.push((e as Error).message);
        return;
      }
    }
  }

  /** Stop after the current transfers; resolves when every client loop ended. */
  async stop(): Promise<BankRun> {
    this.stopped = true;
    await Promise.all(this.loops);
    return { acked: this.acked.slice(), attempted: this.attempted, errorsBeforeCut: this.errorsBeforeCut.slice() };
  }

  /** Resolves when the client loops ended (after a cut they end with connection errors). */
  settled(): Promise<void> {
    return Promise.all(this.loops).then(() => undefined);
  }
}

export interface OracleResult {
  lostCommits: number[];
  balanceSum: bigint;
  expectedSum: bigint;
  accountRows: number;
  /** Accounts whose balance disagrees with the transfers present. */
  inconsistentAccounts: number;
  presentTransfers: number;
  /** Errors raised while reading (e.g. "invalid page in block 7 of relation base/5/16384"). */
  queryErrors: string[];
}

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
