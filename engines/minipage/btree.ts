/**
 * The B+tree: variable-length keys and values in leaves, separator keys in
 * internal pages, sibling links on every level, splits on overflow, deletes
 * without merging (an emptied leaf stays in the tree, as in many engines).
 *
 * Every change goes through `io.log(page, record)`, which logs the record
 * and applies it with the same code redo uses. A split logs: the allocation
 * (Meta), the new right page (Format), the shrunk left page (Format), then the
 * separator in the parent (InsertChild, or a parent split, or a new root).
 *
 * Invariants (checked by verify.ts on recovered images):
 *  - keys strictly ascending in every page; every key of child i of an
 *    internal page lies in [keys[i-1], keys[i]);
 *  - all leaves on level 0, every internal page one level above its children;
 *  - the `right` links of each level chain its pages in key order; the last is 0;
 *  - every allocated page (1 .. pageCount-1) is reachable from the root exactly once.
 */
import { Page, PageType, childIndex, internalCellSize, leafCellSize, lowerBound, newPage, usedBytes, META_PAGE_NO } from './page';
import { RecType, WalRecord } from './records';

export interface TreeIO {
  readonly pageSize: number;
  getPage(pageNo: number): Page;
  /** A new, empty page object for a freshly allocated page number (its first record is a Format). */
  newPageObject(pageNo: number): Page;
  log(page: Page, rec: WalRecord): void;
  /** Unpin the pages of the current read (long scans visit more pages than the pool holds). */
  unpinAll(): void;
}

export function maxKeyBytes(pageSize: number): number {
  return Math.floor((pageSize - 32) / 8) - 8;
}

export function maxCellBytes(pageSize: number): number {
  return Math.floor((pageSize - 32) / 4);
}

function descend(io: TreeIO, key: Buffer): { leaf: Page; path: Page[] } {
  const meta = io.getPage(META_PAGE_NO);
  let p = io.getPage(meta.root);
  const path: Page[] = [];
  while (p.type === PageType.Internal) {
    path.push(p);
    p = io.getPage(p.children[childIndex(p, key)]);
  }
  return { leaf: p, path };
}

export function treeGet(io: TreeIO, key: Buffer): Buffer | undefined {
  const { leaf } = descend(io, key);
  const i = lowerBound(leaf.keys, key);
  return i < leaf.keys.length && leaf.keys[i].equals(key) ? leaf.vals[i] : undefined;
}

export function treeDelete(io: TreeIO, key: Buffer): boolean {
  const { leaf } = descend(io, key);
  const i = lowerBound(leaf.keys, key);
  if (i >= leaf.keys.length || !leaf.keys[i].equals(key)) return false;
  io.log(leaf, { type: RecType.Del, pageNo: leaf.pageNo, key });
  return true;
}

function allocate(io: TreeIO, root?: number): number {
  const meta = io.getPage(META_PAGE_NO);
  const no = meta.pageCount;
  io.log(meta, { type: RecType.Meta, pageNo: META_PAGE_NO, root: root ?? meta.root, pageCount: no + 1 });
  return no;
}

function format(io: TreeIO, target: Page, content: Page): void {
  io.log(target, { type: RecType.Format, pageNo: target.pageNo, page: content });
}

export function treePut(io: TreeIO, key: Buffer, val: Buffer): void {
  const { leaf, path } = descend(io, key);
  const i = lowerBound(leaf.keys, key);
  const exists = i < leaf.keys.length && leaf.keys[i].equals(key);
  const size = usedBytes(leaf) - (exists ? leafCellSize(key.length, leaf.vals[i].length) : 0) + leafCellSize(key.length, val.length);
  if (size <= io.pageSize) {
    io.log(leaf, { type: RecType.Put, pageNo: leaf.pageNo, key, val });
    return;
  }
  // Split: lay out the would-be content, cut it where the left half reaches half the bytes.
  const keys = leaf.keys.slice();
  const vals = leaf.vals.slice();
  if (exists) vals[i] = val;
  else {
    keys.splice(i, 0, key);
    vals.splice(i, 0, val);
  }
  let total = 0;
  for (let j = 0; j < keys.length; j++) total += leafCellSize(keys[j].length, vals[j].length);
  let s = 0;
  let acc = 0;
  while (s < keys.length - 1 && acc + leafCellSize(keys[s].length, vals[s].length) <= total / 2) acc += leafCellSize(keys[s].length, vals[s].length), s++;
  if (s === 0) s = 1;
  const rightNo = allocate(io);
  const right = newPage(rightNo, PageType.Leaf, 0);
  right.right = leaf.right;
  right.keys = keys.slice(s);
  right.vals = vals.slice(s);
  const left = newPage(leaf.pageNo, PageType.Leaf, 0);
  left.right = rightNo;
  left.keys = keys.slice(0, s);
  left.vals = vals.slice(0, s);
  format(io, io.newPageObject(rightNo), right);
  format(io, leaf, left);
  insertIntoParent(io, path, leaf, right.keys[0], rightNo);
}

function insertIntoParent(io: TreeIO, path: Page[], leftPage: Page, sep: Buffer, rightNo: number): void {
  const parent = path.pop();
  if (!parent) {
    // New root above leftPage and rightNo.
    const meta = io.getPage(META_PAGE_NO);
    const rootNo = meta.pageCount;
    io.log(meta, { type: RecType.Meta, pageNo: META_PAGE_NO, root: rootNo, pageCount: rootNo + 1 });
    const root = newPage(rootNo, PageType.Internal, leftPage.level + 1);
    root.keys = [sep];
    root.children = [leftPage.pageNo, rightNo];
    format(io, io.newPageObject(rootNo), root);
    return;
  }
  if (usedBytes(parent) + internalCellSize(sep.length) <= io.pageSize) {
    io.log(parent, { type: RecType.InsertChild, pageNo: parent.pageNo, key: sep, child: rightNo });
    return;
  }
  const at = childIndex(parent, sep);
  const keys = parent.keys.slice();
  const children = parent.children.slice();
  keys.splice(at, 0, sep);
  children.splice(at + 1, 0, rightNo);
  // Promote the middle key: left keeps keys[0..m), right gets keys(m..], keys[m] goes up.
  const m = keys.length >> 1;
  const newNo = allocate(io);
  const right = newPage(newNo, PageType.Internal, parent.level);
  right.right = parent.right;
  right.keys = keys.slice(m + 1);
  right.children = children.slice(m + 1);
  const left = newPage(parent.pageNo, PageType.Internal, parent.level);
  left.right = newNo;
  left.keys = keys.slice(0, m);
  left.children = children.slice(0, m + 1);
  format(io, io.newPageObject(newNo), right);
  format(io, parent, left);
  insertIntoParent(io, path, parent, keys[m], newNo);
}

/** Every key/value pair in key order, walking the leaf level by its sibling links. */
export function treeScan(io: TreeIO): [Buffer, Buffer][] {
  const meta = io.getPage(META_PAGE_NO);
  let p = io.getPage(meta.root);
  while (p.type === PageType.Internal) p = io.getPage(p.children[0]);
  const out: [Buffer, Buffer][] = [];
  for (;;) {
    for (let i = 0; i < p.keys.length; i++) out.push([p.keys[i], p.vals[i]]);
    if (p.right === 0) return out;
    const next = p.right;
    io.unpinAll();
    p = io.getPage(next);
  }
}
