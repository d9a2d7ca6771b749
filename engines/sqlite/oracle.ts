/**
 * The oracle for the SQLite bank workload: turns what the verifier saw in a
 * recovered database (VerifyFacts) and what the parent recorded before the cut
 * (the highest acknowledged txid) into one verdict of ARCHITECTURE 4.
 *
 * Reasoning, most severe first:
 * - recovery-failed: SQLite could not open or read the file for a reason other
 *   than detected corruption (I/O error, crash, timeout).
 * - torn-page-detected: SQLite itself noticed (SQLITE_CORRUPT / SQLITE_NOTADB,
 *   or integrity_check reports problems).
 * - silent-corruption: SQLite is content but a row fails its own checksum, an
 *   account row is missing or duplicated, the ledger has a hole or a row whose
 *   content is not transaction txid's, or an account holds a value it never
 *   held at the recovered point (a stale or misplaced page).
 * - atomicity-violation: the state is that of commit K except for accounts of
 *   the transaction just before or just after K, which show that transaction
 *   only in part (the balance invariant breaks with it).
 * - lost-commit: the state is exactly that of commit K and K < highest ack.
 * - ok: exactly commit K with K >= highest ack.
 * A verdict the cell's documented promise allows (WAL + synchronous=NORMAL losing
 * commits; DELETE without EXTRA rolling back exactly the last commit) is marked
 * `tradeOff` and is not a finding.
 */
import { CellPromise } from './cell';
import { VerifyFacts } from './child';
import { BankState, TxStream, WorkloadShape, applyTx, initialState, partsText } from './workload';

import { VERDICTS, Verdict } from '../../src/crash/verdict';
export { VERDICTS };
export type { Verdict };

export interface OracleResult {
  verdict: Verdict;
  /** The commit the recovered state corresponds to (highest ledger txid), when readable. */
  recoveredTxid?: number;
  ackedTxid: number;
  /** Sum of balances found, and what the invariant demands. */
  balanceSum?: number;
  balanceExpected: number;
  /** Human-readable findings, SQLite's own messages first. */
  messages: string[];
  /** The verdict is a loss the cell's documented setting accepts (not a finding). */
  tradeOff?: string;
  finding: boolean;
}

const CORRUPTION_CODES = /^SQLITE_(CORRUPT|NOTADB)/;

export function judge(facts: VerifyFacts, ackedTxid: number, seed: number, shape: WorkloadShape, promise: CellPromise): OracleResult {
  const r = classify(facts, ackedTxid, seed, shape);
  if (r.verdict === 'lost-commit' && !promise.durability && promise.integrity) {
    r.tradeOff = promise.note;
    r.finding = false;
  } else if (r.verdict === 'lost-commit' && promise.lastCommitMayRollBack && r.recoveredTxid === ackedTxid - 1) {
    r.tradeOff = promise.lastCommitMayRollBack;
    r.finding = false;
  }
  return r;
}

function classify(facts: VerifyFacts, ackedTxid: number, seed: number, shape: WorkloadShape): OracleResult {
  const balanceExpected = shape.accounts * shape.initialBalance;
  const base = { ackedTxid, balanceExpected, finding: true };
  const sqliteErrors = [facts.openError, facts.integrityError, facts.readError].filter((e): e is NonNullable<typeof e> => !!e);
  const sqliteMessages = sqliteErrors.map((e) => `${e.code}: ${e.message}`);
  if (sqliteErrors.some((e) => CORRUPTION_CODES.test(e.code))) {
    return { ...base, verdict: 'torn-page-detected', messages: [...sqliteMessages, ...integrityMessages(facts)] };
  }
  if (sqliteErrors.length > 0) return { ...base, verdict: 'recovery-failed', messages: sqliteMessages };
  if (facts.integrity.length !== 1 || facts.integrity[0] !== 'ok') {
    return { ...base, verdict: 'torn-page-detected', messages: integrityMessages(facts) };
  }

  const messages: string[] = [];
  const balanceSum = facts.accounts.reduce((s, a) => s + a[1], 0);
  const withSum = { ...base, balanceSum };
  const badAccounts = facts.accounts.filter((a) => !a[3]).map((a) => a[0]);
  const badLedger = facts.ledger.filter((l) => !l[1]).map((l) => l[0]);
  if (badAccounts.length) messages.push(`row checksum mismatch in accounts ${fmtList(badAccounts)}`);
  if (badLedger.length) messages.push(`row checksum mismatch in ledger rows ${fmtList(badLedger)}`);
  const ids = facts.accounts.map((a) => a[0]);
  if (ids.length !== shape.accounts || ids.some((id, i) => id !== i + 1)) messages.push(`accounts table holds ${ids.length} rows, expected ids 1..${shape.accounts}`);
  const txids = facts.ledger.map((l) => l[0]);
  const K = txids.length ? txids[txids.length - 1] : 0;
  if (txids.some((t, i) => t !== i + 1)) messages.push(`ledger has holes: ${txids.length} rows up to txid ${K}`);
  if (messages.length) return { ...withSum, verdict: 'silent-corruption', recoveredTxid: K, messages };

  // Replay to K+1 and keep the states around K (K-1, K, K+1) for the atomicity test.
  const stream = new TxStream(seed, shape);
  const state = initialState(shape);
  let before: BankState = state.slice();
  let last: ReturnType<TxStream['next']> | undefined;
  const ledgerByTxid = new Map(facts.ledger.map((l) => [l[0], l]));
  for (let t = 1; t <= K; t++) {
    const tx = stream.next();
    const row = ledgerByTxid.get(t)!;
    if (row[2] !== tx.kind || row[3] !== tx.dst || row[4] !== tx.total || row[5] !== partsText(tx.parts)) {
      messages.push(`ledger row ${t} holds another transaction's content (${row[2]} -> ${row[3]})`);
    }
    if (t === K) before = state.slice();
    applyTx(state, tx);
    last = tx;
  }
  if (messages.length) return { ...withSum, verdict: 'silent-corruption', recoveredTxid: K, messages };
  const next = stream.next();
  const after = state.slice();
  applyTx(after, next);

  const mismatched = facts.accounts.filter(([id, bal, ver]) => state[id].balance !== bal || state[id].version !== ver);
  if (mismatched.length === 0) {
    if (balanceSum !== balanceExpected) messages.push(`balance invariant broken: sum ${balanceSum}, expected ${balanceExpected}`); // cannot happen when the replay matches
    if (K < ackedTxid) {
      return { ...withSum, verdict: 'lost-commit', recoveredTxid: K, messages: [`recovered to commit ${K} but commit ${ackedTxid} was acknowledged before the cut (${ackedTxid - K} lost)`] };
    }
    return { ...withSum, verdict: 'ok', recoveredTxid: K, messages, finding: false };
  }
  // Part of transaction K (ledger row present, some accounts not) or part of K+1 (some accounts, no ledger row)?
  const touchedK = new Set(last ? last.parts.map((p) => p[0]) : []);
  const touchedNext = new Set(next.parts.map((p) => p[0]));
  const same = (s: BankState, id: number, bal: number, ver: number) => s[id].balance === bal && s[id].version === ver;
  const partialK = mismatched.every(([id, bal, ver]) => touchedK.has(id) && same(before, id, bal, ver));
  const partialNext = mismatched.every(([id, bal, ver]) => touchedNext.has(id) && same(after, id, bal, ver));
  const sumNote = `balance sum ${balanceSum} (invariant ${balanceExpected})`;
  if (partialK || partialNext) {
    const t = partialK ? K : K + 1;
    return {
      ...withSum,
      verdict: 'atomicity-violation',
      recoveredTxid: K,
      messages: [`transaction ${t} is visible in part: ${mismatched.length} of its ${partialK ? touchedK.size : touchedNext.size} accounts ${partialK ? 'miss its update' : 'show its update without its ledger row'}; ${sumNote}`],
    };
  }
  return {
    ...withSum,
    verdict: 'silent-corruption',
    recoveredTxid: K,
    messages: [`${mismatched.length} account rows pass their checksums but hold values they never held at commit ${K} (stale or misplaced pages), e.g. account ${mismatched[0][0]} = ${mismatched[0][1]} v${mismatched[0][2]}, expected ${state[mismatched[0][0]].balance} v${state[mismatched[0][0]].version}; ${sumNote}`],
  };
}

function integrityMessages(f: VerifyFacts): string[] {
  return f.integrity.length === 1 && f.integrity[0] === 'ok' ? [] : f.integrity.map((m) => `integrity_check: ${m.replace(/\s*\n\s*/g, ' / ')}`);
}

function fmtList(xs: number[]): string {
  return xs.length <= 8 ? xs.join(', ') : `${xs.slice(0, 8).join(', ')} ... (${xs.length})`;
}
