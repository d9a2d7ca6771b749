/**
 * Workload generators. Each draws every choice from a Prng forked from the
 * run's seed, so a (name, seed, size) triple is one fixed sequence of
 * transactions. A generator sees the database only through `read` (committed
 * state plus the transaction's own writes), which the bank workload needs.
 *
 *  - kv-uniform: 1..maxOps puts (85%) or deletes over `keys` keys, uniform.
 *  - kv-zipf:    the same with Zipf(0.99)-distributed keys (hot pages).
 *  - bank:       a first transaction opens `accounts` accounts of 1000; then
 *                transfers between two accounts. Invariant: the balances sum
 *                to accounts x 1000 (or no account exists yet).
 *  - insert-seq: appends increasing keys (many splits at the right edge), with
 *                an occasional delete of an older key.
 */
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';

export const WORKLOAD_NAMES = ['kv-uniform', 'kv-zipf', 'bank', 'insert-seq'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface WorkloadConfig {
  name: WorkloadName;
  seed: number;
  /** Number of transactions. */
  txns: number;
  /** Key space (kv-*), default 400. */
  keys?: number;
  /** Bank accounts, default 64. */
  accounts?: number;
  /** Max operations per transaction (kv-*, insert-seq), default 4. */
  maxOps?: number;
  /** Value length range in bytes, default [20, 200]. */
  valueBytes?: [number, number];
}

export type Op = { kind: 'put'; key: string; value: string } | { kind: 'del'; key: string };

export interface Workload {
  config: Required<WorkloadConfig>;
  /** The next transaction's operations; `read` returns the current value of a key. */
  next(index: number, read: (key: string) => string | undefined): Op[];
  /** Workload invariant on a recovered key/value map; returns a violation description or null. */
  checkInvariant(state: Map<string, string>): string | null;
}

export const BANK_INITIAL = 1000;

export function normalizeWorkload(c: WorkloadConfig): Required<WorkloadConfig> {
  if (!WORKLOAD_NAMES.includes(c.name)) throw new BadInputError(`unknown workload "${String(c.name)}": use ${WORKLOAD_NAMES.join(', ')}`);
  const r: Required<WorkloadConfig> = {
    name: c.name,
    seed: c.seed,
    txns: c.txns,
    keys: c.keys ?? 400,
    accounts: c.accounts ?? 64,
    maxOps: c.maxOps ?? 4,
    valueBytes: c.valueBytes ?? [20, 200],
  };
  if (!Number.isSafeInteger(r.seed)) throw new BadInputError(`workload seed must be an integer, got ${r.seed}`);
  if (!(Number.isInteger(r.txns) && r.txns >= 1)) throw new BadInputError(`workload size (txns) must be an integer >= 1, got ${r.txns}`);
  if (!(Number.isInteger(r.keys) && r.keys >= 2)) throw new BadInputError(`keys must be an integer >= 2`);
  if (!(Number.isInteger(r.accounts) && r.accounts >= 2 && r.accounts <= 10000)) throw new BadInputError(`accounts must be an integer in 2..10000`);
  if (!(Number.isInteger(r.maxOps) && r.maxOps >= 1 && r.maxOps <= 64)) throw new BadInputError(`maxOps must be an integer in 1..64`);
  const [lo, hi] = r.valueBytes;
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 8 && hi >= lo)) throw new BadInputError(`valueBytes must be [min, max] with 8 <= min <= max`);
  return r;
}

const FILL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A value that names its writer (txn, op) and is padded from the Prng to a drawn length. */
function makeValue(prng: Prng, index: number, op: number, range: [number, number]): string {
  const len = prng.int(range[0], range[1]);
  const head = `t${index}.${op}:`;
  const seed = FILL[prng.int(0, FILL.length - 1)] + FILL[prng.int(0, FILL.length - 1)] + FILL[prng.int(0, FILL.length - 1)];
  let s = head;
  while (s.length < len) s += seed;
  return s.slice(0, Math.max(len, head.length));
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

export function createWorkload(config: WorkloadConfig): Workload {
  const c = normalizeWorkload(config);
  const prng = new Prng(c.seed, `workload/${c.name}`);
  const noInvariant = () => null;
  switch (c.name) {
    case 'kv-uniform':
    case 'kv-zipf': {
      let pickKey: () => number;
      if (c.name === 'kv-uniform') pickKey = () => prng.int(0, c.keys - 1);
      else {
        const cdf: number[] = [];
        let sum = 0;
        for (let i = 1; i <= c.keys; i++) cdf.push((sum += 1 / Math.pow(i, 0.99)));
        pickKey = () => {
          const u = prng.float() * sum;
          let lo = 0;
          let hi = cdf.length - 1;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (cdf[mid] < u) lo = mid + 1;
            else hi = mid;
          }
          return lo;
        };
      }
      return {
        config: c,
        next(index) {
          const n = prng.int(1, c.maxOps);
          const ops: Op[] = [];
          for (let i = 0; i < n; i++) {
            const key = `k${pad(pickKey(), 6)}`;
            if (prng.chance(0.15)) ops.push({ kind: 'del', key });
            else ops.push({ kind: 'put', key, value: makeValue(prng, index, i, c.valueBytes) });
          }
          return ops;
        },
        checkInvariant: noInvariant,
      };
    }
    case 'insert-seq': {
      let nextKey = 0;
      return {
        config: c,
        next(index) {
          const n = prng.int(1, c.maxOps);
          const ops: Op[] = [];
          for (let i = 0; i < n; i++) ops.push({ kind: 'put', key: `s${pad(nextKey++, 8)}`, value: makeValue(prng, index, i, c.valueBytes) });
          if (nextKey > 10 && prng.chance(0.05)) ops.push({ kind: 'del', key: `s${pad(prng.int(0, nextKey - 10), 8)}` });
          return ops;
        },
        checkInvariant: noInvariant,
      };
    }
    case 'bank': {
      const acct = (i: number) => `acct${pad(i, 5)}`;
      // Balances are padded so that accounts fill pages like real rows do.
      const filler = '|' + 'x'.repeat(Math.max(0, c.valueBytes[0] - 12));
      const enc = (bal: number) => `${bal}${filler}`;
      const dec = (v: string | undefined) => (v === undefined ? NaN : parseInt(v.split('|')[0], 10));
      return {
        config: c,
        next(index, read) {
          if (index === 0) {
            const ops: Op[] = [];
            for (let i = 0; i < c.accounts; i++) ops.push({ kind: 'put', key: acct(i), value: enc(BANK_INITIAL) });
            return ops;
          }
          const a = prng.int(0, c.accounts - 1);
          let b = prng.int(0, c.accounts - 2);
          if (b >= a) b++;
          const amount = prng.int(1, 100);
          const ba = dec(read(acct(a)));
          const bb = dec(read(acct(b)));
          if (!(ba >= amount) || Number.isNaN(bb)) return [];
          return [
            { kind: 'put', key: acct(a), value: enc(ba - amount) },
            { kind: 'put', key: acct(b), value: enc(bb + amount) },
          ];
        },
        checkInvariant(state) {
          let n = 0;
          let sum = 0;
          for (const [k, v] of state) {
            if (!k.startsWith('acct')) continue;
            n++;
            const bal = dec(v);
            if (Number.isNaN(bal)) return `account ${k} holds "${v.slice(0, 40)}", not a balance`;
            sum += bal;
          }
          if (n === 0) return null;
          if (n !== c.accounts) return `${n} of ${c.accounts} accounts exist`;
          if (sum !== c.accounts * BANK_INITIAL) return `balances sum to ${sum}, expected ${c.accounts * BANK_INITIAL}`;
          return null;
        },
      };
    }
  }
}
