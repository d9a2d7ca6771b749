/**
 * The bank-transfer workload and its oracle's result, shared by the real
 * databases that run it (engines/postgres, engines/mariadb); each passes its
 * own transfer statement and reads its own oracle.
 *
 * A transfer moves an amount between two accounts and records itself as one
 * row, in one transaction. The oracle, after recovery: every transfer whose
 * commit was acknowledged before the cut has its row (else lost-commit); the
 * balances sum to accounts * INITIAL_BALANCE and each account's balance equals
 * INITIAL_BALANCE plus what the present transfers moved (else a transaction
 * is partly visible: atomicity-violation); all accounts are there.
 *
 * Invariants:
 *  1. A commit counts as acknowledged only if its acknowledgement arrived
 *     before the cut instant (markCut); one after it is in doubt, and
 *     present or absent are both correct.
 *  2. Every choice (accounts, amounts) comes from the workload's Prng, one
 *     fork per client, so a seed reruns the same transfers.
 */
import { Prng } from '../../src/util/prng';

export const INITIAL_BALANCE = 1000;

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

/**
 * Runs transfers on `clients` connections until stopped; knows which commits
 * were acknowledged before the cut. The transfer statement is the engine's.
 */
export class BankWorkload<C> {
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
    private readonly transfer: TransferFn<C>,
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
