/**
 * The mini page engine: B+tree pages in a buffer pool, a WAL with group
 * commit, fuzzy checkpoints, redo recovery, and a torn-write protection
 * plug-in (none | doublewrite | fpw | atomic).
 *
 * Transactions buffer their writes and apply them at commit, all at once and
 * with nothing else in between; so a transaction's records lie contiguous in
 * the log, ending with its Commit record, and redo applies a transaction only
 * when it reaches that Commit record (redo-only, no undo). A commit is
 * acknowledged (`sync`, the group commit) only once the WAL holding it is
 * durable: Flush after the WAL writes, FUA or CRITICAL WAL writes, the
 * device's confirmation of the WAL writes' persistence tokens, or (with an
 * advertised power window) write completion within the window's destage
 * budget; see commit-durability.ts.
 *
 * Checkpoint (fuzzy): begin = take the redo point R (the WAL insert position)
 * and the set of pages dirty now; steps write those pages in batches while
 * transactions go on; finish = Flush, then the control block with redo point R.
 * Until the control block is on media the previous checkpoint's R rules.
 *
 * Recovery (open): control block -> protection's before-redo hook -> read the
 * WAL from R to its end (first record not intact) -> redo committed
 * transactions, record by record, skipping a record when the page's LSN shows
 * it already applied -> write every page redo dirtied (through the protection),
 * Flush -> new control block: epoch + 1, R = end of log. WAL records carry the
 * epoch: records past the end of the log that a crash cut off belong to an
 * older epoch and can never be mistaken for new ones later. Recovery writes
 * nothing before that last step but doublewrite repairs (which keep their
 * doublewrite copies), so a crash during recovery leaves a state recovery
 * handles again: recovery is idempotent.
 *
 * Invariants (asserted where cheap, at the entry points named):
 *  E1 durable <= insert: wal.durableLsn <= wal.insertLsn (sync, checkpointFinish);
 *  E2 redo point <= insert: the control block's redo point never passes the
 *     WAL insert position (checkpointFinish, before the control block is written);
 *  E3 write-ahead: a page goes to the device only once the WAL is durable past
 *     its LSN (writePagesOut flushes the WAL first);
 *  E4 no steal: a page never reaches the device carrying changes of a
 *     transaction whose Commit record is not logged (bufferpool noSteal);
 *  E5 every ordering step (Flush between phases, single-command page write,
 *     checksum checks, FPI) goes through `steps` (sabotage.ts), which also marks
 *     the crash windows; the engine never tests a sabotage switch itself.
 */
import { NvmeDevice } from '../../src/device/device';
import { BadInputError } from '../../src/util/errors';
import { BufferPool } from './bufferpool';
import { maxCellBytes, maxKeyBytes, treeDelete, treeGet, treePut, treeScan, TreeIO } from './btree';
import { LostPageError, RecoveryError, TornPageError } from './errors';
import {
  ControlBlock,
  CONTROL_VERSION,
  Layout,
  LayoutOptions,
  ProtectionMode,
  PROTECTION_MODES,
  checkPageSize,
  computeLayout,
  decodeControl,
  encodeControl,
  layoutOfControl,
} from './layout';
import { META_PAGE_NO, Page, PageType, checkPageImage, clonePage, decodePage, encodePage, newPage } from './page';
import { PageImage, Protection, pageLba, protectionFor, readRange } from './protections';
import { Steps } from './sabotage';
import { asDecoded, redoStep, type PageMemo, type RedoNode } from './page-memo';
import { RecType, WalRecord, applyRecord, pageFromInitRecord, willInit } from './records';
import { WAL_START_LSN, WalDurability, WalStats, WalWriter, readWal } from './wal';
import { DEFAULT_POWER_WINDOW_MS, UnconfirmedWrites, checkCommitMethod, checkPowerWindowMs } from './commit-durability';
import { PageMismatchError } from './records';

export interface EngineOptions extends Partial<LayoutOptions> {
  /** Protection mode; at open defaults to the one the database was created with. */
  mode?: ProtectionMode;
  /** Buffer pool frames (default 64, at least 16). */
  frames?: number;
  /** How a commit's WAL is made durable (default 'flush'): flush | fua | critical | token | window. */
  walDurability?: WalDurability;
  /** walDurability 'window': the power window the host advertises to the device, ms (default 50). */
  powerWindowMs?: number;
  /** atomic mode: start even if the device does not cover the page size. */
  force?: boolean;
  /** Pages per checkpoint step (default 16). */
  checkpointBatch?: number;
  /** Positive controls: ordering steps to break (sabotage.ts SABOTAGES); never set outside a control. */
  sabotage?: string[];
  /** A shared page memo (delta.ts; the verifier's, across the crash states of a cell): loadPage checks and decodes each distinct image once. Default: the engine's own. */
  pageMemo?: PageMemo;
}

export interface CommitTicket {
  txid: number;
  acked: boolean;
  /** dev.seq when the commit was requested / acknowledged. */
  commitSeq: number;
  ackSeq: number;
  commitTimeUs: number;
  ackTimeUs: number;
}

export class Txn {
  /** Writes by key (latin1 of the key bytes), in first-write order; null = delete. */
  readonly writes = new Map<string, { key: Buffer; val: Buffer | null }>();
  done = false;
  constructor(readonly id: number) {}
}

export interface RecoveryInfo {
  redoLsn: number;
  endLsn: number;
  records: number;
  txnsReplayed: number;
  incompleteTxnRecords: number;
  repairedPages: number[];
  pagesWritten: number;
  stop: string;
  epoch: number;
}

export interface EngineStats {
  commits: number;
  /** Key + value bytes of committed puts, plus key bytes of deletes: what the application asked to store. */
  logicalBytes: number;
  commitLatencyUs: number[];
  checkpoints: number;
  pagesWritten: number;
  evictions: number;
  wal: WalStats;
}

function toBuf(v: Uint8Array | string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'latin1');
  return Buffer.isBuffer(v) ? Buffer.from(v) : Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

interface CheckpointState {
  redoLsn: number;
  targets: number[];
  next: number;
}

export class MiniPageEngine implements TreeIO {
  readonly pageSize: number;
  readonly mode: ProtectionMode;
  readonly protection: Protection;
  readonly pool: BufferPool;
  readonly wal: WalWriter;
  recovery?: RecoveryInfo;
  private control: ControlBlock;
  /** Redo point of the latest checkpoint begun (fpw compares page LSNs with it). */
  private fpwRedoLsn: number;
  private ckpt?: CheckpointState;
  private nextTxid = 1;
  private pendingAcks: CommitTicket[] = [];
  private readonly checkpointBatch: number;
  private readonly pageMemo?: PageMemo;
  /**
   * Without a shared memo: the last image this engine wrote of each page and
   * the page decodePage gives for it (asDecoded). A reload whose bytes equal
   * it skips the checksum and the decode (equal bytes: the same check and the
   * same page, page-memo.ts M1/M3); the read command itself is still issued.
   */
  private readonly written = new Map<number, { image: Buffer; page: Page }>();
  /**
   * With a shared memo, during recovery: the redo lineage of each page in the
   * pool (page-memo.ts M4), so that a page content another crash state's
   * recovery wrote already is written with that image, not encoded again.
   * A page changed any other way (log) loses its lineage.
   */
  private readonly lineage = new WeakMap<Page, RedoNode>();
  private broken?: string;
  /** Ordering steps (sabotage switches) and crash-window marks. */
  readonly steps: Steps;
  readonly stats: Omit<EngineStats, 'wal' | 'evictions'> = { commits: 0, logicalBytes: 0, commitLatencyUs: [], checkpoints: 0, pagesWritten: 0 };

  private constructor(
    readonly dev: NvmeDevice,
    readonly layout: Layout,
    control: ControlBlock,
    protection: Protection,
    opts: EngineOptions,
    walStart: { lsn: number; prefix: Buffer },
    steps: Steps,
  ) {
    this.steps = steps;
    this.pageSize = layout.pageSize;
    this.mode = protection.mode;
    this.protection = protection;
    this.control = control;
    this.fpwRedoLsn = control.redoLsn;
    const frames = opts.frames ?? 64;
    if (!(Number.isInteger(frames) && frames >= 16)) throw new BadInputError(`frames must be an integer >= 16, got ${frames}`);
    this.pageMemo = opts.pageMemo;
    this.checkpointBatch = opts.checkpointBatch ?? 16;
    if (!(Number.isInteger(this.checkpointBatch) && this.checkpointBatch >= 1)) throw new BadInputError(`checkpointBatch must be an integer >= 1`);
    this.pool = new BufferPool(frames, (no) => this.loadPage(no), (pages) => this.writePagesOut(pages));
    if (opts.frames !== undefined && opts.frames > layout.maxPages) throw new BadInputError(`frames (${opts.frames}) must not exceed maxPages (${layout.maxPages})`);
    const durability = opts.walDurability ?? 'flush';
    let window: ConstructorParameters<typeof WalWriter>[7];
    if (durability === 'window') {
      // The host advertises the window; it may count on the device destaging
      // windowMs x NAND bandwidth after a cut (the RFC has the device publish its rate).
      const ms = opts.powerWindowMs ?? DEFAULT_POWER_WINDOW_MS;
      dev.setPowerWindow(ms);
      window = { unconfirmed: new UnconfirmedWrites(dev), budgetBytes: Math.floor(ms * 1000 * dev.profile.latency.nandBytesPerUs) };
    }
    this.wal = new WalWriter(dev, layout, control.epoch, walStart.lsn, walStart.prefix, durability, () => this.control.redoLsn, window, steps);
  }

  // ------------------------------------------------------------ create / open

  /** Format a new database on `dev`. Validates everything before the first write. */
  static create(dev: NvmeDevice, opts: EngineOptions & { pageSize: number }): MiniPageEngine {
    const mode = checkMode(opts.mode ?? 'none');
    checkDurability(opts);
    checkPageSize(opts.pageSize);
    const layout = computeLayout({ pageSize: opts.pageSize, walBytes: opts.walBytes, dwPages: opts.dwPages, maxPages: opts.maxPages }, dev.blockSize, dev.nsze);
    const protection = protectionFor(mode);
    protection.checkDevice(dev, layout, !!opts.force);
    if (opts.frames !== undefined && !(Number.isInteger(opts.frames) && opts.frames >= 16)) throw new BadInputError(`frames must be an integer >= 16, got ${opts.frames}`);
    // A reformat must not let the old log's records pass as new ones: continue its epoch numbering.
    let old: ControlBlock | string = 'unreadable';
    try {
      old = decodeControl(dev.read(0, 1));
    } catch {
      /* an unreadable control block is no database */
    }
    const epoch = typeof old === 'string' ? 1 : old.epoch + 1;
    const control: ControlBlock = {
      version: CONTROL_VERSION,
      pageSize: layout.pageSize,
      blockSize: dev.blockSize,
      mode,
      epoch,
      redoLsn: WAL_START_LSN,
      checkpoints: 0,
      walStart: layout.walStart,
      walBlocks: layout.walBlocks,
      dwStart: layout.dwStart,
      dwSlots: layout.dwSlots,
      dataStart: layout.dataStart,
      maxPages: layout.maxPages,
    };
    const meta = newPage(META_PAGE_NO, PageType.Meta);
    meta.root = 1;
    meta.pageCount = 2;
    const root = newPage(1, PageType.Leaf);
    for (const p of [meta, root]) dev.write(pageLba(layout, p.pageNo), encodePage(p, layout.pageSize), { tag: 'page' });
    dev.flush();
    dev.write(0, encodeControl(control, dev.blockSize), { tag: 'meta', fua: true });
    return new MiniPageEngine(dev, layout, control, protection, opts, { lsn: WAL_START_LSN, prefix: Buffer.alloc(WAL_START_LSN) }, new Steps(dev, opts.sabotage));
  }

  /** Open an existing database: recovery always runs. */
  static open(dev: NvmeDevice, opts: EngineOptions = {}): MiniPageEngine {
    checkDurability(opts);
    if (opts.pageSize !== undefined) checkPageSize(opts.pageSize);
    let raw: Uint8Array;
    try {
      raw = dev.read(0, 1);
    } catch (e) {
      throw new RecoveryError(`cannot read the control block: ${(e as Error).message}`);
    }
    const control = decodeControl(raw);
    if (typeof control === 'string') throw new RecoveryError(control);
    if (opts.pageSize !== undefined && opts.pageSize !== control.pageSize) {
      throw new BadInputError(`page size mismatch: the database was created with ${control.pageSize}-byte pages, opened with pageSize ${opts.pageSize}; open it with pageSize ${control.pageSize}`);
    }
    if (control.blockSize !== dev.blockSize) {
      throw new BadInputError(`block size mismatch: the database was created on ${control.blockSize}-byte blocks, this device has ${dev.blockSize}-byte blocks`);
    }
    const layout = layoutOfControl(control);
    if (layout.totalBlocks > dev.nsze) throw new BadInputError(`device too small: the database spans ${layout.totalBlocks} blocks, the namespace has ${dev.nsze}`);
    const mode = checkMode(opts.mode ?? control.mode);
    const protection = protectionFor(mode);
    protection.checkDevice(dev, layout, !!opts.force);

    // Hook 3: before redo. Repaired pages go back in place at once, with a
    // Flush; their doublewrite copies stay until the end-of-recovery checkpoint.
    const steps = new Steps(dev, opts.sabotage);
    const repaired = steps.keeps('dw.restore') ? protection.beforeRedo(dev, layout, steps) : new Map<number, Buffer>();
    if (repaired.size > 0) {
      const ids = [...repaired].map(([no, img]) => dev.submitWrite(pageLba(layout, no), img, { tag: 'page' }));
      for (const id of ids) dev.wait(id);
      steps.flush('recovery');
    }

    const log = readWal(dev, layout, control.redoLsn, control.epoch, layout.pageSize + 256, steps.keeps('wal.crc'), opts.pageMemo?.records);
    const next: ControlBlock = { ...control, mode, epoch: control.epoch + 1, redoLsn: log.endLsn };
    // The engine runs redo with the old epoch's control; the writer starts in the new epoch.
    const eng = new MiniPageEngine(dev, layout, next, protection, opts, { lsn: log.endLsn, prefix: log.tailPrefix }, steps);
    const info: RecoveryInfo = {
      redoLsn: control.redoLsn,
      endLsn: log.endLsn,
      records: log.records.length,
      txnsReplayed: 0,
      incompleteTxnRecords: 0,
      repairedPages: [...repaired.keys()].sort((a, b) => a - b),
      pagesWritten: 0,
      stop: log.stop,
      epoch: next.epoch,
    };
    let txn: { lsn: number; rec: WalRecord }[] = [];
    for (const r of log.records) {
      if (r.rec.type !== RecType.Commit) {
        txn.push(r);
        continue;
      }
      for (const x of txn) {
        eng.redoOne(x.lsn, x.rec);
        eng.pool.unpinAll();
      }
      if (txn.length > 0) info.txnsReplayed++;
      txn = [];
    }
    info.incompleteTxnRecords = txn.length;
    // End-of-recovery checkpoint: everything redo did goes to the data pages, then the new control block.
    const dirty = eng.pool.dirtyPages();
    eng.writePagesOut(dirty);
    info.pagesWritten = dirty.length;
    steps.flush('recovery');
    eng.writeControl(next);
    eng.recovery = info;
    return eng;
  }

  // ------------------------------------------------------------ transactions

  begin(): Txn {
    this.checkUsable();
    return new Txn(this.nextTxid++);
  }

  put(tx: Txn, key: Uint8Array | string, value: Uint8Array | string): void {
    this.checkTx(tx);
    const k = toBuf(key);
    const v = toBuf(value);
    this.checkKey(k);
    const maxCell = maxCellBytes(this.pageSize) - 6;
    if (k.length + v.length > maxCell) {
      throw new BadInputError(`key + value of ${k.length + v.length} bytes does not fit a ${this.pageSize}-byte page: at most ${maxCell} bytes (key + value) per entry`);
    }
    tx.writes.set(k.toString('latin1'), { key: k, val: v });
  }

  delete(tx: Txn, key: Uint8Array | string): void {
    this.checkTx(tx);
    const k = toBuf(key);
    this.checkKey(k);
    tx.writes.set(k.toString('latin1'), { key: k, val: null });
  }

  /** Committed value of `key`, seen through `tx`'s own writes when given. */
  get(key: Uint8Array | string, tx?: Txn): Buffer | undefined {
    const k = toBuf(key);
    if (tx) {
      const w = tx.writes.get(k.toString('latin1'));
      if (w) return w.val ?? undefined;
    }
    try {
      return treeGet(this, k);
    } finally {
      this.pool.unpinAll();
    }
  }

  /**
   * Apply the transaction and append its Commit record. Not yet durable: the
   * ticket is acknowledged by the next `sync()` (group commit).
   */
  commit(tx: Txn): CommitTicket {
    this.checkTx(tx);
    tx.done = true;
    const ticket: CommitTicket = { txid: tx.id, acked: false, commitSeq: this.dev.seq, ackSeq: -1, commitTimeUs: this.dev.timeUs, ackTimeUs: -1 };
    if (tx.writes.size === 0) {
      this.ack(ticket, false); // nothing to make durable; not a commit in the statistics
      return ticket;
    }
    this.ensureWalSpace();
    this.ensurePageSpace(tx.writes.size);
    try {
      for (const w of tx.writes.values()) {
        if (w.val === null) treeDelete(this, w.key);
        else treePut(this, w.key, w.val);
        this.pool.unpinAll();
        this.stats.logicalBytes += w.key.length + (w.val?.length ?? 0);
      }
      this.wal.append({ type: RecType.Commit, txid: tx.id });
    } catch (e) {
      this.broken = `transaction ${tx.id} failed while being applied: ${(e as Error).message}`;
      throw e;
    } finally {
      this.pool.releaseAll();
    }
    this.stats.commits++;
    this.pendingAcks.push(ticket);
    return ticket;
  }

  /** Group commit: make the WAL durable, then acknowledge every pending commit. */
  sync(): CommitTicket[] {
    this.checkUsable();
    this.wal.flush();
    if (this.wal.durableLsn > this.wal.insertLsn) throw new Error(`internal (E1): durable LSN ${this.wal.durableLsn} past insert LSN ${this.wal.insertLsn}`);
    const acked = this.pendingAcks;
    this.pendingAcks = [];
    for (const t of acked) this.ack(t);
    return acked;
  }

  commitSync(tx: Txn): CommitTicket {
    const t = this.commit(tx);
    this.sync();
    return t;
  }

  /** All key/value pairs in key order. */
  scan(): [Buffer, Buffer][] {
    try {
      return treeScan(this);
    } finally {
      this.pool.unpinAll();
    }
  }

  // ------------------------------------------------------------ checkpoints

  get checkpointInProgress(): boolean {
    return this.ckpt !== undefined;
  }

  /** Start a fuzzy checkpoint: fix the redo point and the pages to write. */
  checkpointBegin(): void {
    this.checkUsable();
    if (this.ckpt) return;
    const redoLsn = this.wal.insertLsn;
    this.fpwRedoLsn = redoLsn;
    this.steps.open('ckpt.redo-to-end');
    const targets = this.pool.dirtyPages().filter((p) => p.recLsn < redoLsn).map((p) => p.pageNo);
    this.ckpt = { redoLsn, targets, next: 0 };
  }

  /** Write up to `maxPages` of the checkpoint's pages; returns true when none are left. */
  checkpointStep(maxPages = this.checkpointBatch): boolean {
    const c = this.ckpt;
    if (!c) return true;
    const batch: Page[] = [];
    while (c.next < c.targets.length && batch.length < maxPages) {
      const p = this.pool.peek(c.targets[c.next++]);
      // Written by eviction meanwhile, or dirtied again only after R: nothing of before R is left in memory.
      if (p && p.dirty && p.recLsn < c.redoLsn) batch.push(p);
    }
    if (batch.length > 0) this.writePagesOut(batch);
    return c.next >= c.targets.length;
  }

  /** Write what is left, Flush, then the control block: the checkpoint is complete. */
  checkpointFinish(): void {
    const c = this.ckpt;
    if (!c) return;
    while (!this.checkpointStep()) {
      /* keep writing */
    }
    const redoLsn = this.steps.keeps('ckpt.redo-at-begin') ? c.redoLsn : this.wal.insertLsn;
    if (redoLsn > this.wal.insertLsn || redoLsn < this.control.redoLsn) throw new Error(`internal (E2): redo point ${redoLsn} outside [${this.control.redoLsn}, ${this.wal.insertLsn}]`);
    const control = { ...this.control, redoLsn, checkpoints: this.control.checkpoints + 1 };
    if (this.steps.keeps('ckpt.flush-before-control')) {
      this.steps.flush('ckpt.before-control');
      this.writeControl(control);
    } else {
      this.writeControl(control);
      this.steps.flush('ckpt.before-control');
    }
    this.steps.close('ckpt.redo-to-end');
    this.ckpt = undefined;
    this.stats.checkpoints++;
  }

  checkpoint(): void {
    this.checkpointFinish();
    this.checkpointBegin();
    this.checkpointFinish();
  }

  /** Clean shutdown: group commit, checkpoint. */
  close(): void {
    this.sync();
    this.checkpoint();
  }

  get redoLsn(): number {
    return this.control.redoLsn;
  }

  get epoch(): number {
    return this.control.epoch;
  }

  engineStats(): EngineStats {
    return { ...this.stats, commitLatencyUs: this.stats.commitLatencyUs.slice(), evictions: this.pool.evictions, wal: { ...this.wal.stats } };
  }

  // ------------------------------------------------------------ TreeIO

  getPage(pageNo: number): Page {
    return this.pool.get(pageNo);
  }

  unpinAll(): void {
    this.pool.unpinAll();
  }

  newPageObject(pageNo: number): Page {
    return this.pool.peek(pageNo) ? this.pool.get(pageNo) : this.pool.install(newPage(pageNo, PageType.Leaf));
  }

  /** Hook 1 (page modified): log the change (or, for fpw, the full page image after it) and apply it. */
  log(page: Page, rec: WalRecord): void {
    this.lineage.delete(page);
    if (rec.type === RecType.Meta && rec.pageCount > this.layout.maxPages) {
      throw new BadInputError(`database full: all ${this.layout.maxPages} pages in use; create it with a larger maxPages (and a device to hold it)`);
    }
    if (!willInit(rec) && this.protection.needsFullPageImage(page, this.fpwRedoLsn) && this.steps.keeps('fpw.image')) {
      applyRecord(page, rec);
      page.lsn = this.wal.insertLsn;
      const image = encodePage(page, this.pageSize);
      const lsn = this.wal.append({ type: RecType.Fpi, pageNo: page.pageNo, image }, true);
      if (lsn !== page.lsn) throw new Error('internal: FPI LSN moved');
    } else {
      const lsn = this.wal.append(rec);
      if (willInit(rec)) copyContent(page, pageFromInitRecord(rec, lsn));
      else applyRecord(page, rec);
      page.lsn = lsn;
    }
    markDirty(page);
    this.pool.protect(page.pageNo);
  }

  // ------------------------------------------------------------ internals

  private redoOne(lsn: number, rec: WalRecord): void {
    if (rec.type === RecType.Commit) return;
    const no = rec.pageNo;
    if (no >= this.layout.maxPages) throw new RecoveryError(`WAL record at lsn ${lsn} names page ${no}, beyond the ${this.layout.maxPages} pages of the database`);
    if (willInit(rec)) {
      // Rebuild the page from the record alone: the data-area copy is never read (it may be torn).
      const p = this.pool.peek(no) ? this.pool.get(no) : this.pool.install(newPage(no, PageType.Leaf));
      copyContent(p, this.pageOfInitRecord(rec, lsn));
      p.lsn = lsn;
      markDirty(p);
      if (this.pageMemo) this.lineage.set(p, this.pageMemo.initRoot(rec));
      return;
    }
    const p = this.pool.get(no);
    if (p.lsn >= lsn) return; // already on the page
    try {
      applyRecord(p, rec);
    } catch (e) {
      // The page verified (one version, checksum ok) but lacks changes the log builds on: a loss, not a tear.
      if (e instanceof PageMismatchError) throw new LostPageError(no, `redo: ${e.message}`, p.lsn, lsn);
      throw e;
    }
    p.lsn = lsn;
    markDirty(p);
    const node = this.lineage.get(p);
    if (node) this.lineage.set(p, redoStep(node, rec));
  }

  /** pageFromInitRecord; a full page image that checks goes through the page memo (decoded once per distinct image). */
  private pageOfInitRecord(rec: WalRecord, lsn: number): Page {
    if (rec.type === RecType.Fpi && this.pageMemo) {
      const m = this.pageMemo.load(rec.pageNo, rec.image);
      if (m.page) {
        m.page.lsn = lsn;
        return m.page;
      }
    }
    return pageFromInitRecord(rec, lsn);
  }

  private loadPage(pageNo: number): Page {
    if (pageNo >= this.layout.maxPages) throw new RecoveryError(`page ${pageNo} is beyond the ${this.layout.maxPages} pages of the database`);
    const [img] = readRange(this.dev, pageLba(this.layout, pageNo), 1, this.layout.pageBlocks);
    if (!img) throw new TornPageError(pageNo, 'unreadable');
    if (!this.pageMemo) {
      const w = this.written.get(pageNo);
      if (w && w.image.equals(img)) return clonePage(w.page);
    }
    if (this.pageMemo && this.steps.keeps('page.crc')) {
      const m = this.pageMemo.load(pageNo, img);
      if (m.page) {
        this.lineage.set(m.page, m.redo!);
        return m.page;
      }
      if (m.check === 'zero') throw new LostPageError(pageNo, 'it reads all zeros: its write never landed');
      throw new TornPageError(pageNo, m.check);
    }
    const check = this.steps.keeps('page.crc') ? checkPageImage(img, pageNo) : 'ok';
    if (check === 'zero') throw new LostPageError(pageNo, 'it reads all zeros: its write never landed');
    if (check !== 'ok') throw new TornPageError(pageNo, check);
    try {
      return decodePage(img);
    } catch (e) {
      // Only reachable with the page checksum check sabotaged: an image that passed no check.
      throw new TornPageError(pageNo, `undecodable: ${(e as Error).message}`);
    }
  }

  /** Hook 2 (pages written): WAL first (write-ahead rule), then the protection puts the images down. */
  writePagesOut(pages: Page[]): void {
    if (pages.length === 0) return;
    let maxLsn = 0;
    for (const p of pages) maxLsn = Math.max(maxLsn, p.lsn);
    if (maxLsn >= this.wal.durableLsn) this.wal.flush();
    const images: PageImage[] = pages.map((p) => ({ pageNo: p.pageNo, lsn: p.lsn, image: this.imageOf(p) }));
    if (this.pageMemo) for (let i = 0; i < pages.length; i++) this.pageMemo.remember(pages[i].pageNo, images[i].image, pages[i]);
    else for (let i = 0; i < pages.length; i++) this.written.set(pages[i].pageNo, { image: images[i].image, page: asDecoded(pages[i]) });
    this.protection.writePages(this.dev, this.layout, images, this.steps);
    for (const p of pages) p.dirty = false;
    this.stats.pagesWritten += pages.length;
  }

  /** encodePage, or the image of the page's redo lineage when a state wrote that content already (M4). */
  private imageOf(p: Page): Buffer {
    const node = this.pageMemo ? this.lineage.get(p) : undefined;
    if (node?.image) return node.image;
    const image = encodePage(p, this.pageSize);
    if (node) node.image = image;
    return image;
  }

  private writeControl(c: ControlBlock): void {
    this.steps.open('ckpt.control-unflushed');
    this.dev.write(0, encodeControl(c, this.dev.blockSize), { tag: 'meta', fua: true });
    this.steps.close('ckpt.control-unflushed');
    this.control = c;
  }

  private ack(t: CommitTicket, measured = true): void {
    t.acked = true;
    // Not before the WAL's durability shows in a crash capture (see WalWriter.ackSeqFloor).
    t.ackSeq = Math.max(this.dev.seq, this.wal.ackSeqFloor);
    t.ackTimeUs = this.dev.timeUs;
    if (measured) this.stats.commitLatencyUs.push(t.ackTimeUs - t.commitTimeUs);
  }

  /** Keep the log from lapping the redo point: checkpoint when half the WAL area is in use. */
  private ensureWalSpace(): void {
    if (this.wal.insertLsn - this.control.redoLsn < this.wal.capacity / 2) return;
    this.checkpointFinish();
    this.checkpoint();
    if (this.wal.insertLsn - this.control.redoLsn >= this.wal.capacity / 2) throw new Error('internal: WAL still full after a checkpoint');
  }

  private ensurePageSpace(writes: number): void {
    const meta = this.pool.get(META_PAGE_NO);
    const root = this.pool.get(meta.root);
    this.pool.unpinAll();
    // Room for at least one split cascade (a leaf, every level above it, a new root) per write, up to 4.
    // If the transaction still runs out of pages, `log` refuses the allocation and the engine must be
    // reopened: nothing of the transaction reached the device (no steal), recovery drops it.
    const need = Math.min(writes, 4) * (root.level + 2);
    if (meta.pageCount + need > this.layout.maxPages) {
      throw new BadInputError(`database full: ${meta.pageCount} of ${this.layout.maxPages} pages in use; create it with a larger maxPages (and a device to hold it)`);
    }
  }

  private checkKey(k: Buffer): void {
    const max = maxKeyBytes(this.pageSize);
    if (k.length === 0 || k.length > max) throw new BadInputError(`key of ${k.length} bytes: keys must be 1..${max} bytes with ${this.pageSize}-byte pages`);
  }

  private checkTx(tx: Txn): void {
    this.checkUsable();
    if (tx.done) throw new BadInputError(`transaction ${tx.id} is already committed`);
  }

  private checkUsable(): void {
    if (this.broken) throw new Error(`engine unusable: ${this.broken}`);
  }
}

function markDirty(p: Page): void {
  if (!p.dirty) {
    p.dirty = true;
    p.recLsn = p.lsn;
  }
}

function copyContent(dst: Page, src: Page): void {
  dst.type = src.type;
  dst.level = src.level;
  dst.right = src.right;
  dst.keys = src.keys;
  dst.vals = src.vals;
  dst.children = src.children;
  dst.root = src.root;
  dst.pageCount = src.pageCount;
  dst.lsn = src.lsn;
}

function checkMode(mode: unknown): ProtectionMode {
  if (!PROTECTION_MODES.includes(mode as ProtectionMode)) {
    throw new BadInputError(`unknown protection mode "${String(mode)}": use ${PROTECTION_MODES.join(', ')}`);
  }
  return mode as ProtectionMode;
}

function checkDurability(opts: EngineOptions): void {
  if (opts.walDurability !== undefined) checkCommitMethod(opts.walDurability);
  if (opts.powerWindowMs !== undefined) {
    checkPowerWindowMs(opts.powerWindowMs);
    if (opts.walDurability !== 'window') throw new BadInputError(`powerWindowMs applies to walDurability "window" only (got walDurability "${opts.walDurability ?? 'flush'}")`);
  }
}
