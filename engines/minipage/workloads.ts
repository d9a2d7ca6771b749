/**
 * Workload generators. Each draws every choice from a Prng forked from the
 * run's seed, so a (name, seed, size) triple is one fixed sequence of
 * transactions. A generator sees the database only through `read` (committed
 * state plus the transaction's own writes), which the bank workload needs.
 *
 *  - kv-uniform: 1..maxOps puts (85%) or deletes over `keys` keys, uniform.
 *  - kv-zipf:    the same with Zipf(0.99)-distributed keys (hot pages).
 *  - bank:       the first transaction(s) open `accounts` accounts of 1000 (LOAD_BATCH per
 *                transaction beyond 64); then
 *                transfers between two accounts. Invariant: the balances sum
 *                to accounts x 1000 (or no account exists yet).
 *  - insert-seq: appends increasing keys (many splits at the right edge), with
 *                an occasional delete of an older key.
 *  - ycsb-a:     YCSB core workload A (Cooper et al., SoCC 2010, workloads/workloada):
 *                `keys` records loaded first (LOAD_BATCH per transaction), then one
 *                operation per transaction, 50% read / 50% update, Zipf(0.99) keys.
 *  - ycsb-f:     YCSB core workload F (workloads/workloadf): 50% read / 50%
 *                read-modify-write (the update derives from the value read), Zipf(0.99).
 *  - tpcc-like:  the TPC-C order/payment mix (TPC-C 5.11, clauses 2.4 and 2.5),
 *                scaled down: one warehouse, 10 districts, `keys` customers and
 *                `keys` stock items; New-Order (52%: next order id, an order and
 *                5..10 order lines, stock updates) and Payment (48%: warehouse,
 *                district and customer year-to-date). Invariant: TPC-C consistency
 *                condition 1 (W_YTD = sum of D_YTD) and, per district, order ids
 *                1..next-1 present.
 * Every random choice is drawn from the one Prng of the workload (seeded from the run).
 */
import { BadInputError } from '../../src/util/errors';
import { Prng } from '../../src/util/prng';

export const WORKLOAD_NAMES = ['kv-uniform', 'kv-zipf', 'bank', 'insert-seq', 'ycsb-a', 'ycsb-f', 'tpcc-like'] as const;
/** Records per loading transaction (ycsb-*, tpcc-like). */
export const LOAD_BATCH = 40;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface WorkloadConfig {
  name: WorkloadName;
  seed: number;
  /** Number of transactions. */
  txns: number;
  /** Key space (kv-*, ycsb-*; customers and items of tpcc-like), default 400. */
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

/** Zipf(theta) over 0..n-1 by inverse CDF (binary search), drawing from `prng`. */
function zipfPicker(prng: Prng, n: number, theta = 0.99): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 1; i <= n; i++) cdf[i - 1] = sum += 1 / Math.pow(i, theta);
  return () => {
    const u = prng.float() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
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
    case 'ycsb-a':
    case 'ycsb-f': {
      const key = (i: number) => `user${pad(i, 8)}`;
      const loadTxns = Math.ceil(c.keys / LOAD_BATCH);
      // YCSB scatters the hot keys over the key space (hashed insert order); a fixed permutation does the same.
      const perm = Array.from({ length: c.keys }, (_, i) => i);
      for (let i = perm.length - 1; i > 0; i--) {
        const j = prng.int(0, i);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const zipf = zipfPicker(prng, c.keys);
      return {
        config: c,
        next(index, read) {
          if (index < loadTxns) {
            const ops: Op[] = [];
            for (let k = index * LOAD_BATCH; k < Math.min(c.keys, (index + 1) * LOAD_BATCH); k++) ops.push({ kind: 'put', key: key(k), value: makeValue(prng, index, k, c.valueBytes) });
            return ops;
          }
          const k = key(perm[zipf()]);
          if (prng.chance(0.5)) {
            read(k);
            return [];
          }
          if (c.name === 'ycsb-a') return [{ kind: 'put', key: k, value: makeValue(prng, index, 0, c.valueBytes) }];
          // Read-modify-write: the new value carries the old one's head.
          const old = read(k) ?? '';
          return [{ kind: 'put', key: k, value: `${makeValue(prng, index, 0, c.valueBytes)}<${old.slice(0, 8)}`.slice(0, c.valueBytes[1]) }];
        },
        checkInvariant: noInvariant,
      };
    }
    case 'tpcc-like':
      return tpccLike(c, prng);
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
      // parseInt stops at the '|' (no split of the padded string: this ran for every read of a cost run).
      const dec = (v: string | undefined) => (v === undefined ? NaN : parseInt(v, 10));
      // Up to 64 accounts open in the first transaction; more open LOAD_BATCH per transaction (a pool of frames must hold one).
      const loadBatch = c.accounts <= 64 ? c.accounts : LOAD_BATCH;
      const loadTxns = Math.ceil(c.accounts / loadBatch);
      return {
        config: c,
        next(index, read) {
          if (index < loadTxns) {
            const ops: Op[] = [];
            for (let i = index * loadBatch; i < Math.min(c.accounts, (index + 1) * loadBatch); i++) ops.push({ kind: 'put', key: acct(i), value: enc(BANK_INITIAL) });
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
          // While loading: the first n accounts, n a whole number of load transactions.
          if (n !== c.accounts && n % loadBatch !== 0) return `${n} of ${c.accounts} accounts exist`;
          for (let i = 0; i < n; i++) if (!state.has(acct(i))) return `account ${acct(i)} missing (${n} of ${c.accounts} exist)`;
          if (sum !== n * BANK_INITIAL) return `balances sum to ${sum}, expected ${n * BANK_INITIAL}`;
          return null;
        },
      };
    }
  }
}

/** The TPC-C-like order/payment mix; see the module comment. */
function tpccLike(c: Required<WorkloadConfig>, prng: Prng): Workload {
  const D = 10;
  const W = 'w01';
  const dist = (d: number) => `d${pad(d, 2)}`;
  const cust = (i: number) => `c${pad(i, 6)}`;
  const stock = (i: number) => `s${pad(i, 6)}`;
  const order = (d: number, o: number) => `o${pad(d, 2)}.${pad(o, 7)}`;
  const line = (d: number, o: number, l: number) => `l${pad(d, 2)}.${pad(o, 7)}.${pad(l, 2)}`;
  const filler = (n: number) => '|' + 'x'.repeat(Math.max(0, n));
  // district row: next order id, ytd
  const encD = (next: number, ytd: number) => `${next},${ytd}${filler(40)}`;
  // Rows are read on every transaction: cut at the '|' without splitting the padding (parseInt stops there).
  const decD = (v: string | undefined) => {
    const s = v ?? '';
    const bar = s.indexOf('|');
    const [a, b] = (bar < 0 ? s : s.slice(0, bar)).split(',');
    return { next: parseInt(a, 10), ytd: parseInt(b, 10) };
  };
  const num = (v: string | undefined) => parseInt(v ?? '', 10);
  const loadRows: [string, string][] = [[W, `0${filler(60)}`]];
  for (let d = 0; d < D; d++) loadRows.push([dist(d), encD(1, 0)]);
  for (let i = 0; i < c.keys; i++) loadRows.push([cust(i), `0${filler(prng.int(c.valueBytes[0], c.valueBytes[1]))}`]);
  for (let i = 0; i < c.keys; i++) loadRows.push([stock(i), `100${filler(30)}`]);
  const loadTxns = Math.ceil(loadRows.length / LOAD_BATCH);
  return {
    config: c,
    next(index, read) {
      if (index < loadTxns) return loadRows.slice(index * LOAD_BATCH, (index + 1) * LOAD_BATCH).map(([key, value]) => ({ kind: 'put', key, value }));
      const d = prng.int(0, D - 1);
      const drow = decD(read(dist(d)));
      if (Number.isNaN(drow.next)) return [];
      if (prng.chance(0.52)) {
        // New-Order: take the district's next order id, write the order, its lines and the stock.
        const o = drow.next;
        const n = prng.int(5, 10);
        const ops: Op[] = [{ kind: 'put', key: dist(d), value: encD(o + 1, drow.ytd) }];
        ops.push({ kind: 'put', key: order(d, o), value: `${cust(prng.int(0, c.keys - 1))},${n}${filler(20)}` });
        for (let l = 0; l < n; l++) {
          const item = prng.int(0, c.keys - 1);
          const q = num(read(stock(item)));
          const take = prng.int(1, 10);
          ops.push({ kind: 'put', key: stock(item), value: `${q - take < 10 ? q - take + 91 : q - take}${filler(30)}` });
          ops.push({ kind: 'put', key: line(d, o, l), value: `${item},${take}${filler(24)}` });
        }
        return ops;
      }
      // Payment: warehouse, district and customer year-to-date.
      const amount = prng.int(1, 5000);
      const ci = prng.int(0, c.keys - 1);
      const wytd = num(read(W));
      const cbal = num(read(cust(ci)));
      if (Number.isNaN(wytd) || Number.isNaN(cbal)) return [];
      return [
        { kind: 'put', key: W, value: `${wytd + amount}${filler(60)}` },
        { kind: 'put', key: dist(d), value: encD(drow.next, drow.ytd + amount) },
        { kind: 'put', key: cust(ci), value: `${cbal - amount}${(read(cust(ci)) ?? '').slice(String(cbal).length)}` },
      ];
    },
    checkInvariant(state) {
      const w = state.get(W);
      if (w === undefined) return null;
      let sum = 0;
      for (let d = 0; d < D; d++) {
        const v = state.get(dist(d));
        if (v === undefined) return null; // still loading
        const r = decD(v);
        sum += r.ytd;
        for (let o = 1; o < r.next; o++) if (!state.has(order(d, o))) return `district ${d}: order ${o} missing (next order id ${r.next})`;
        if (state.has(order(d, r.next))) return `district ${d}: order ${r.next} exists beyond next order id`;
      }
      if (num(w) !== sum) return `W_YTD ${num(w)} != sum of D_YTD ${sum} (TPC-C consistency condition 1)`;
      return null;
    },
  };
}
