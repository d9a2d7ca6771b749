/**
 * The oracle on databases built in-process and then damaged on purpose: every
 * verdict class must come out where it belongs. A torn 8 KiB page is built the
 * way a power cut tears it (first 4 KiB new, last 4 KiB old).
 */
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SqliteCell, cellPromise } from '../../engines/sqlite/cell';
import { runLoad, runVerify } from '../../engines/sqlite/child';
import { judge } from '../../engines/sqlite/oracle';
import { DEFAULT_SHAPE, TxStream, accountCrc, accountPad, applyTx, initialState, memoText } from '../../engines/sqlite/workload';

const SEED = 11;
const cell: SqliteCell = { journalMode: 'DELETE', synchronous: 'FULL', pageSize: 8192 };
let dir: string;
let base: string;
let at20: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-oracle-'));
  base = path.join(dir, 'bank.db');
  at20 = path.join(dir, 'at20.db');
  runLoad({ dbPath: base, cell, seed: SEED, maxTx: 40 }, (line) => {
    if (line === 'ack 20') fs.copyFileSync(base, at20);
  });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function copy(name: string, from = base): string {
  const p = path.join(dir, name);
  fs.copyFileSync(from, p);
  return p;
}

function verdictOf(file: string, acked: number, c: SqliteCell = cell) {
  return judge(runVerify(file), acked, SEED, DEFAULT_SHAPE, cellPromise(c));
}

/** The account states after the first k transactions. */
function stateAt(k: number) {
  const s = initialState(DEFAULT_SHAPE);
  const stream = new TxStream(SEED, DEFAULT_SHAPE);
  const txs = [];
  for (let t = 1; t <= k + 1; t++) txs.push(stream.next());
  for (let t = 0; t < k; t++) applyTx(s, txs[t]);
  return { state: s, txs };
}

function setAccount(file: string, id: number, balance: number, version: number, crcOverride?: number) {
  const db = new Database(file);
  const pad = accountPad(id, version);
  db.prepare('UPDATE accounts SET balance = ?, version = ?, pad = ?, crc = ? WHERE id = ?').run(balance, version, pad, crcOverride ?? accountCrc(id, balance, version, pad), id);
  db.close();
}

describe('SQLite oracle', () => {
  test('intact database: ok, and the balance invariant holds', () => {
    const r = verdictOf(copy('ok.db'), 40);
    expect(r.verdict).toBe('ok');
    expect(r.recoveredTxid).toBe(40);
    expect(r.balanceSum).toBe(r.balanceExpected);
    expect(r.finding).toBe(false);
  });

  test('a consistent older state with later acknowledgements: lost-commit (a finding when durability is promised)', () => {
    const r = verdictOf(copy('lost.db', at20), 25, { ...cell, journalMode: 'TRUNCATE' });
    expect(r.verdict).toBe('lost-commit');
    expect(r.recoveredTxid).toBe(20);
    expect(r.finding).toBe(true);
  });

  test('WAL + synchronous=NORMAL: a lost commit is the documented trade-off, not a finding', () => {
    const r = verdictOf(copy('walnormal.db', at20), 30, { ...cell, journalMode: 'WAL', synchronous: 'NORMAL' });
    expect(r.verdict).toBe('lost-commit');
    expect(r.finding).toBe(false);
    expect(r.tradeOff).toMatch(/synchronous=NORMAL/);
  });

  test('DELETE + FULL: exactly the last commit rolled back is documented; two is a finding', () => {
    const one = verdictOf(copy('del1.db', at20), 21);
    expect(one).toMatchObject({ verdict: 'lost-commit', finding: false });
    expect(one.tradeOff).toMatch(/EXTRA/);
    const two = verdictOf(copy('del2.db', at20), 22);
    expect(two).toMatchObject({ verdict: 'lost-commit', finding: true });
  });

  test('part of the last transaction missing: atomicity-violation, balance invariant broken', () => {
    const { state, txs } = stateAt(40);
    const before = stateAt(39).state;
    const f = copy('partial.db');
    const [id] = txs[39].parts[0];
    setAccount(f, id, before[id].balance, before[id].version);
    const r = verdictOf(f, 40);
    expect(r.verdict).toBe('atomicity-violation');
    expect(r.balanceSum).not.toBe(r.balanceExpected);
    expect(state[id].version).toBe(40);
  });

  test('an account showing the next, uncommitted transaction: atomicity-violation', () => {
    const { state, txs } = stateAt(40);
    const f = copy('next.db');
    const [id, delta] = txs[40].parts[0];
    setAccount(f, id, state[id].balance + delta, 41);
    expect(verdictOf(f, 40).verdict).toBe('atomicity-violation');
  });

  test('a row whose content does not match its checksum: silent-corruption', () => {
    const { state } = stateAt(40);
    const f = copy('crc.db');
    setAccount(f, 7, state[7].balance + 1, state[7].version, 12345);
    const r = verdictOf(f, 40);
    expect(r.verdict).toBe('silent-corruption');
    expect(r.messages[0]).toMatch(/checksum mismatch in accounts 7/);
  });

  test('a stale row with a valid checksum (a page that went back in time): silent-corruption', () => {
    const f = copy('stale.db');
    // Account 0-version state with the right checksum, where commit 40 has a later one.
    const { state } = stateAt(40);
    const id = state.findIndex((a, i) => i > 0 && a.version > 0 && a.version < 30);
    setAccount(f, id, DEFAULT_SHAPE.initialBalance, 0);
    expect(verdictOf(f, 40).verdict).toBe('silent-corruption');
  });

  test('every 8 KiB page torn at 4 KiB between commits 20 and 40 is caught', () => {
    const oldB = fs.readFileSync(at20);
    const newB = fs.readFileSync(base);
    const ps = cell.pageSize;
    const verdicts: string[] = [];
    for (let p = 0; (p + 1) * ps <= oldB.length; p++) {
      const o = oldB.subarray(p * ps, (p + 1) * ps);
      const n = newB.subarray(p * ps, (p + 1) * ps);
      // Only pages whose both halves changed can tear into something new.
      if (o.subarray(0, 4096).equals(n.subarray(0, 4096)) || o.subarray(4096).equals(n.subarray(4096))) continue;
      const torn = Buffer.from(newB);
      o.subarray(4096).copy(torn, p * ps + 4096);
      const f = path.join(dir, `torn-${p}.db`);
      fs.writeFileSync(f, torn);
      verdicts.push(verdictOf(f, 40).verdict);
    }
    expect(verdicts.length).toBeGreaterThan(5);
    expect(verdicts).not.toContain('ok');
    expect(verdicts).toContain('torn-page-detected');
  });

  test('overflow-page content gone stale, which SQLite reads without complaint, is caught by the row checksums', () => {
    // The longest memo of the first 40 transactions spills onto overflow pages: find one by its text.
    const { txs } = stateAt(40);
    const longest = txs.slice(0, 40).reduce((a, t) => (t.memoLength > a.memoLength ? t : a));
    expect(longest.memoLength).toBeGreaterThan(cell.pageSize);
    const text = memoText(longest.txid, longest.memoLength);
    const bytes = fs.readFileSync(base);
    const at = bytes.indexOf(Buffer.from(text.slice(text.length - 64)));
    expect(at).toBeGreaterThan(0);
    // The overflow page's structure (its next-page pointer) stays intact; only memo bytes differ,
    // as when part of the page holds what an earlier write left there.
    const torn = Buffer.from(bytes);
    torn.fill('X'.charCodeAt(0), at, at + 64);
    const f = path.join(dir, 'torn-overflow.db');
    fs.writeFileSync(f, torn);
    const r = verdictOf(f, 40);
    expect(r.verdict).toBe('silent-corruption');
    expect(r.messages.join(' ')).toMatch(/checksum mismatch in ledger/);
  });

  test('a file that is not a database: torn-page-detected with SQLite\'s message', () => {
    const f = path.join(dir, 'garbage.db');
    fs.writeFileSync(f, Buffer.alloc(16384, 0x5a));
    const r = verdictOf(f, 1);
    expect(r.verdict).toBe('torn-page-detected');
    expect(r.messages.join(' ')).toMatch(/SQLITE_NOTADB|not a database/);
  });

  test('a database that cannot be opened: recovery-failed', () => {
    const r = verdictOf(path.join(dir, 'missing', 'bank.db'), 1);
    expect(r.verdict).toBe('recovery-failed');
    expect(r.messages[0]).toMatch(/open/i);
  });
});
