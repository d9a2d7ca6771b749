/**
 * The SQLite side of a crash cycle, run as a child process so that a power cut
 * can SIGKILL it mid-transaction (and so that no synchronous SQLite call ever
 * runs in the process that serves the emulated device through FUSE: that would
 * deadlock).
 *
 *   node child.js load   '{"dbPath":..,"cell":..,"seed":..,"maxTx":..}'
 *     creates the database, makes the starting state durable, prints "ready",
 *     then commits transactions forever, printing "ack <txid>" after each
 *     commit returned. The parent records those acknowledgements.
 *   node child.js verify '{"dbPath":..}'
 *     opens the crashed database (SQLite rolls back a hot journal or recovers
 *     the WAL on first read), runs PRAGMA integrity_check, reads every row,
 *     checks each row's own checksum, and prints one line "facts <json>".
 *
 * Protocol: one line per message on stdout (synchronous on Linux pipes, so an
 * "ack" line is out before the next transaction starts).
 */
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';
import { SqliteCell } from './cell';
import { DEFAULT_SHAPE, SCHEMA_SQL, TxStream, WorkloadShape, accountCrc, accountPad, applyTx, initialState, ledgerCrc, memoText, partsText } from './workload';

/** PRAGMA synchronous reads back as a number. */
const SYNCHRONOUS_VALUE: Record<SqliteCell['synchronous'], number> = { OFF: 0, NORMAL: 1, FULL: 2, EXTRA: 3 };

export interface LoadArgs {
  dbPath: string;
  cell: SqliteCell;
  seed: number;
  shape?: WorkloadShape;
  /** Stop after this many transactions and wait to be killed (0 = no limit). */
  maxTx?: number;
  /** Pages SQLite may cache before it spills dirty pages mid-transaction. */
  cachePages?: number;
}

export interface SqliteErrorFact {
  code: string;
  message: string;
}

/** What the verifier saw in a recovered database; the oracle (oracle.ts) turns it into a verdict. */
export interface VerifyFacts {
  openError?: SqliteErrorFact;
  /** integrity_check output: ["ok"] when SQLite is content. */
  integrity: string[];
  integrityError?: SqliteErrorFact;
  readError?: SqliteErrorFact;
  journalMode?: string;
  /** [id, balance, version, crcOk] */
  accounts: [number, number, number, boolean][];
  /** [txid, crcOk, kind, dst, total, parts] */
  ledger: [number, boolean, string, number, number, string][];
  /** Files next to the database after recovery, with sizes (evidence for the report). */
  files: Record<string, number>;
}

function errorFact(e: unknown): SqliteErrorFact {
  const err = e as { code?: string; message?: string };
  return { code: err.code ?? 'ERROR', message: err.message ?? String(e) };
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function runLoad(a: LoadArgs, out: (line: string) => void): void {
  const shape = a.shape ?? DEFAULT_SHAPE;
  const db = new Database(a.dbPath);
  // page_size must precede the first table; journal_mode WAL is persistent in the header.
  // better-sqlite3 turns on SQLITE_DBCONFIG_DEFENSIVE, which makes journal_mode=OFF a
  // silent no-op (the database stays in DELETE mode); only its "unsafe mode" lifts that.
  if (a.cell.journalMode === 'OFF') db.unsafeMode(true);
  db.pragma(`page_size = ${a.cell.pageSize}`);
  const mode = String(db.pragma(`journal_mode = ${a.cell.journalMode}`, { simple: true })).toUpperCase();
  if (mode !== a.cell.journalMode) throw new Error(`SQLite kept journal_mode ${mode}, asked for ${a.cell.journalMode}`);
  db.pragma(`synchronous = ${a.cell.synchronous}`);
  const sync = db.pragma('synchronous', { simple: true }) as number;
  if (sync !== SYNCHRONOUS_VALUE[a.cell.synchronous]) throw new Error(`SQLite kept synchronous=${sync}, asked for ${a.cell.synchronous}`);
  db.pragma(`cache_size = ${a.cachePages ?? 64}`);
  if (a.cell.journalMode === 'WAL') db.pragma('wal_autocheckpoint = 200');
  db.exec(SCHEMA_SQL);
  const state = initialState(shape);
  const insertAccount = db.prepare('INSERT INTO accounts(id, balance, version, pad, crc) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let id = 1; id <= shape.accounts; id++) {
      const pad = accountPad(id, 0);
      insertAccount.run(id, state[id].balance, 0, pad, accountCrc(id, state[id].balance, 0, pad));
    }
  })();
  const actualPageSize = db.pragma('page_size', { simple: true }) as number;
  if (actualPageSize !== a.cell.pageSize) throw new Error(`SQLite kept page size ${actualPageSize}, asked for ${a.cell.pageSize}`);
  // The starting state is made durable whatever the cell's synchronous level, so that
  // only what the workload commits is at stake.
  if (a.cell.journalMode === 'WAL') db.pragma('wal_checkpoint(TRUNCATE)');
  for (const f of [a.dbPath, `${a.dbPath}-wal`]) if (fs.existsSync(f)) fsyncPath(f);
  fsyncPath(path.dirname(a.dbPath));
  out('ready');

  const stream = new TxStream(a.seed, shape);
  const getAccount = db.prepare('SELECT balance, version FROM accounts WHERE id = ?');
  const updateAccount = db.prepare('UPDATE accounts SET balance = ?, version = ?, pad = ?, crc = ? WHERE id = ?');
  const insertLedger = db.prepare('INSERT INTO ledger(txid, kind, dst, total, parts, memo, crc) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const commit = db.transaction((tx: ReturnType<TxStream['next']>) => {
    for (const [id, delta] of tx.parts) {
      // Read-modify-write through SQLite (not from our own copy), so a wrong read shows up as a wrong balance.
      const row = getAccount.get(id) as { balance: number; version: number };
      const balance = row.balance + delta;
      const pad = accountPad(id, tx.txid);
      updateAccount.run(balance, tx.txid, pad, accountCrc(id, balance, tx.txid, pad), id);
    }
    const parts = partsText(tx.parts);
    const memo = memoText(tx.txid, tx.memoLength);
    insertLedger.run(tx.txid, tx.kind, tx.dst, tx.total, parts, memo, ledgerCrc(tx.txid, tx.kind, tx.dst, tx.total, parts, memo));
  });
  for (let n = 0; !a.maxTx || n < a.maxTx; n++) {
    const tx = stream.next();
    commit(tx);
    applyTx(state, tx);
    out(`ack ${tx.txid}`);
  }
  db.close();
  out('done');
}

export function runVerify(dbPath: string): VerifyFacts {
  const facts: VerifyFacts = { integrity: [], accounts: [], ledger: [], files: {} };
  const dir = path.dirname(dbPath);
  let db: Database.Database;
  try {
    db = new Database(dbPath, { fileMustExist: true });
    // Opening is lazy: the first read runs hot-journal rollback / WAL recovery.
    facts.journalMode = String(db.pragma('journal_mode', { simple: true }));
  } catch (e) {
    facts.openError = errorFact(e);
    listFiles();
    return facts;
  }
  try {
    facts.integrity = (db.pragma('integrity_check(100)') as { integrity_check: string }[]).map((r) => r.integrity_check);
  } catch (e) {
    facts.integrityError = errorFact(e);
  }
  try {
    for (const r of db.prepare('SELECT id, balance, version, pad, crc FROM accounts ORDER BY id').iterate() as Iterable<{ id: number; balance: number; version: number; pad: string; crc: number }>) {
      facts.accounts.push([r.id, r.balance, r.version, accountCrc(r.id, r.balance, r.version, r.pad) === r.crc]);
    }
    for (const r of db.prepare('SELECT txid, kind, dst, total, parts, memo, crc FROM ledger ORDER BY txid').iterate() as Iterable<{ txid: number; kind: string; dst: number; total: number; parts: string; memo: string; crc: number }>) {
      const ok = ledgerCrc(r.txid, r.kind, r.dst, r.total, r.parts, r.memo) === r.crc;
      facts.ledger.push([r.txid, ok, r.kind, r.dst, r.total, r.parts]);
    }
  } catch (e) {
    facts.readError = errorFact(e);
  }
  try {
    db.close();
  } catch {
    /* closing a damaged database may complain; the facts are already taken */
  }
  listFiles();
  return facts;

  function listFiles(): void {
    try {
      const base = path.basename(dbPath);
      for (const f of fs.readdirSync(dir)) if (f.startsWith(base)) facts.files[f] = fs.statSync(path.join(dir, f)).size;
    } catch {
      /* the directory listing is evidence only */
    }
  }
}

if (require.main === module) {
  const [mode, json] = process.argv.slice(2);
  const out = (line: string) => void fs.writeSync(1, line + '\n');
  try {
    if (mode === 'load') runLoad(JSON.parse(json) as LoadArgs, out);
    else if (mode === 'verify') out(`facts ${JSON.stringify(runVerify((JSON.parse(json) as { dbPath: string }).dbPath))}`);
    else throw new Error(`unknown mode ${mode}`);
  } catch (e) {
    out(`error ${JSON.stringify(errorFact(e))}`);
    process.exitCode = 3;
  }
}
