/**
 * The bank workload SQLite runs under test, and its replay.
 *
 * Schema: `accounts(id, balance, version, pad, crc)` and `ledger(txid, kind,
 * dst, total, parts, memo, crc)`. Transaction `txid` moves money between
 * accounts (the sum of balances never changes: the balance invariant), stamps
 * every account it touches with `version = txid`, and inserts ledger row `txid`.
 * Every row carries a CRC-32C of its own content, so a torn or stale page that
 * SQLite reads without complaint still shows up row by row.
 *
 * Transactions are drawn from a seeded Prng stream, so the parent can replay
 * them and know exactly what the database must hold after the first K commits.
 * The writer (child process) and the oracle (parent) share this module; that is
 * the invariant that makes the replay exact.
 */
import { crc32c } from '@node-rs/crc32';
import { Prng } from '../../src/util/prng';

export interface WorkloadShape {
  accounts: number;
  initialBalance: number;
}

export const DEFAULT_SHAPE: WorkloadShape = { accounts: 300, initialBalance: 1000 };

export type TxKind = 'transfer' | 'sweep' | 'memo';

/** One transaction: `parts` lists [account, delta]; deltas sum to zero. */
export interface Tx {
  txid: number;
  kind: TxKind;
  dst: number;
  total: number;
  parts: [number, number][];
  memoLength: number;
}

/** The sequence of transactions for a seed: next() gives txid 1, 2, ... */
export class TxStream {
  private readonly prng: Prng;
  private txid = 0;

  constructor(
    seed: number,
    readonly shape: WorkloadShape = DEFAULT_SHAPE,
  ) {
    this.prng = new Prng(seed).fork('sqlite-workload');
  }

  next(): Tx {
    const p = this.prng;
    const txid = ++this.txid;
    const n = this.shape.accounts;
    const roll = p.int(0, 99);
    const dst = p.int(1, n);
    if (roll < 65 || roll >= 90) {
      // transfer (or a transfer with a long memo that needs overflow pages)
      let src = p.int(1, n - 1);
      if (src >= dst) src++;
      const amount = p.int(1, 50);
      const kind: TxKind = roll < 65 ? 'transfer' : 'memo';
      const memoLength = kind === 'memo' ? p.int(3000, 12000) : p.int(20, 200);
      return { txid, kind, dst, total: amount, parts: [[src, -amount], [dst, amount]], memoLength };
    }
    // sweep: many accounts each give 1 to dst; touches pages all over the table
    const count = p.int(8, 40);
    const from = new Set<number>();
    while (from.size < count) {
      const a = p.int(1, n);
      if (a !== dst) from.add(a);
    }
    const parts: [number, number][] = [...from].sort((a, b) => a - b).map((a) => [a, -1] as [number, number]);
    parts.push([dst, count]);
    return { txid, kind: 'sweep', dst, total: count, parts, memoLength: p.int(20, 200) };
  }
}

/** Filler text of an account row: depends only on (id, version), so a stale row is still self-consistent. */
export function accountPad(id: number, version: number): string {
  const len = 120 + ((id * 37 + version * 11) % 300);
  const unit = `${id.toString(36)}.${version.toString(36)}:`;
  return unit.repeat(Math.ceil(len / unit.length)).slice(0, len);
}

export function memoText(txid: number, length: number): string {
  const unit = `memo-${txid.toString(36)}|`;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

export function accountCrc(id: number, balance: number, version: number, pad: string): number {
  return crc32c(`A|${id}|${balance}|${version}|${pad}`);
}

export function ledgerCrc(txid: number, kind: string, dst: number, total: number, parts: string, memo: string): number {
  return crc32c(`L|${txid}|${kind}|${dst}|${total}|${parts}|${memo}`);
}

export function partsText(parts: [number, number][]): string {
  return parts.map(([a, d]) => `${a}:${d}`).join(',');
}

export interface AccountState {
  balance: number;
  version: number;
}

/** Account states after a prefix of transactions; index 0 unused. */
export type BankState = AccountState[];

export function initialState(shape: WorkloadShape): BankState {
  const s: BankState = [{ balance: 0, version: 0 }];
  for (let id = 1; id <= shape.accounts; id++) s.push({ balance: shape.initialBalance, version: 0 });
  return s;
}

export function applyTx(state: BankState, tx: Tx): void {
  for (const [a, d] of tx.parts) state[a] = { balance: state[a].balance + d, version: tx.txid };
}

export const SCHEMA_SQL = `
CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, version INTEGER NOT NULL, pad TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE TABLE ledger(txid INTEGER PRIMARY KEY, kind TEXT NOT NULL, dst INTEGER NOT NULL, total INTEGER NOT NULL, parts TEXT NOT NULL, memo TEXT NOT NULL, crc INTEGER NOT NULL);
CREATE INDEX ledger_dst ON ledger(dst);
`;
