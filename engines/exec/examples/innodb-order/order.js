#!/usr/bin/env node
// tornlab exec example: a tiny write-ahead-logged store that writes and
// fsyncs in InnoDB's order, with a deterministic oracle. Run as
//   order.js start | order.js load | order.js verify      (see README.md)
//
// Files on $TORNLAB_MOUNT:
//   data  NPAGES pages of 16 KiB: [page LSN u64][value i64][... SHA-256 of the rest at the end]
//   redo  block 0 (4 KiB) = the checkpoint: [checkpoint LSN u64][hash]; then one 64-byte
//         record per transaction at 4096 + (lsn-1)*64: [lsn u64][a u32][b u32][va i64][vb i64][hash]
// Load, per transaction t (= its LSN): move an amount from page a to page b, append its redo
// record and fdatasync(redo) (innodb_flush_log_at_trx_commit=1), then acknowledge t. Every
// CKPT transactions a checkpoint, in InnoDB's order: write every dirty page (buffered pwrite),
// fsync(data), write the checkpoint block (every change below LSN C is in the data file),
// fdatasync(redo). ORDER=fsync-first does the fsync of the data file before the page writes
// instead -- a checkpoint that covers page writes no fsync covered, the window InnoDB opens when
// its page writes complete after fil_flush_file_spaces() (docs/mariadb-fsync-anomaly.md): that
// variant must be caught, the InnoDB order never.
// Verify = recovery + oracle: pages whose hash fails are torn (exit 10); redo from the
// checkpoint on is applied (a record is applied to a page whose LSN is below it); the state
// must equal the workload's own replay of k transactions (k = last LSN recovered), with k at
// least the last acknowledged one (else lost-commit, 12); a state that matches no prefix is
// atomicity-violation (13) when the sum of all values moved (half a transfer), silent-corruption
// (11) when it did not.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const PAGE = 16384;
const NPAGES = 32;
const INITIAL = 1000;
const REC = 64;
const LOG_START = 4096;
const CKPT = Number(process.env.CKPT || 8);
const ORDER = process.env.ORDER || 'innodb';
const mount = process.env.TORNLAB_MOUNT;
const seed = Number(process.env.TORNLAB_SEED || 1) * 1000 + Number(process.env.TORNLAB_CYCLE || 0);
const dataPath = path.join(mount, 'data');
const redoPath = path.join(mount, 'redo');

function hash(buf) {
  return crypto.createHash('sha256').update(buf).digest().subarray(0, 8);
}

/** The workload's transaction t (1-based), the same in load and verify: mulberry32 over (seed, t). */
function txn(t) {
  let x = (seed * 0x9e3779b1 + t * 0x85ebca6b) >>> 0;
  const next = () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let z = Math.imul(x ^ (x >>> 15), 1 | x);
    z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  const a = Math.floor(next() * NPAGES);
  const b = (a + 1 + Math.floor(next() * (NPAGES - 1))) % NPAGES;
  return { a, b, amount: 1 + Math.floor(next() * 100) };
}

function pageImage(lsn, value) {
  const p = Buffer.alloc(PAGE);
  p.writeBigUInt64BE(BigInt(lsn), 0);
  p.writeBigInt64BE(BigInt(value), 8);
  for (let i = 16; i < PAGE - 8; i += 8) p.writeBigUInt64BE(BigInt(lsn), i); // every block carries the LSN
  hash(p.subarray(0, PAGE - 8)).copy(p, PAGE - 8);
  return p;
}

function checkpointBlock(c) {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64BE(BigInt(c), 0);
  hash(b.subarray(0, 8)).copy(b, 8);
  return b;
}

function record(lsn, a, b, va, vb) {
  const r = Buffer.alloc(REC);
  r.writeBigUInt64BE(BigInt(lsn), 0);
  r.writeUInt32BE(a, 8);
  r.writeUInt32BE(b, 12);
  r.writeBigInt64BE(BigInt(va), 16);
  r.writeBigInt64BE(BigInt(vb), 24);
  hash(r.subarray(0, 32)).copy(r, 32);
  return r;
}

function start() {
  if (process.env.TORNLAB_PHASE === 'recover') return; // recovery happens in verify, on open
  const d = fs.openSync(dataPath, 'w');
  for (let i = 0; i < NPAGES; i++) fs.writeSync(d, pageImage(0, INITIAL), 0, PAGE, i * PAGE);
  fs.fsyncSync(d);
  fs.closeSync(d);
  const r = fs.openSync(redoPath, 'w');
  fs.writeSync(r, checkpointBlock(1), 0, 4096, 0);
  fs.fsyncSync(r);
  fs.closeSync(r);
  const dir = fs.openSync(mount, 'r');
  fs.fsyncSync(dir);
  fs.closeSync(dir);
}

function load() {
  const d = fs.openSync(dataPath, 'r+');
  const r = fs.openSync(redoPath, 'r+');
  const values = new Array(NPAGES).fill(INITIAL);
  const lsns = new Array(NPAGES).fill(0);
  const dirty = new Set();
  const writePages = () => {
    for (const p of dirty) fs.writeSync(d, pageImage(lsns[p], values[p]), 0, PAGE, p * PAGE);
    dirty.clear();
  };
  for (let t = 1; ; t++) {
    const { a, b, amount } = txn(t);
    values[a] -= amount;
    values[b] += amount;
    lsns[a] = lsns[b] = t;
    dirty.add(a).add(b);
    fs.writeSync(r, record(t, a, b, values[a], values[b]), 0, REC, LOG_START + (t - 1) * REC);
    fs.fdatasyncSync(r);
    fs.appendFileSync(process.env.TORNLAB_ACK_FILE, `${t}\n`);
    if (t % CKPT === 0) {
      if (ORDER === 'fsync-first') {
        fs.fsyncSync(d);
        writePages();
      } else {
        writePages();
        fs.fsyncSync(d);
      }
      fs.writeSync(r, checkpointBlock(t + 1), 0, 4096, 0);
      fs.fdatasyncSync(r);
    }
  }
}

function verify() {
  const out = (code, lines) => {
    process.stdout.write(lines.join('\n') + '\n');
    process.exit(code);
  };
  const redo = fs.readFileSync(redoPath);
  const data = fs.readFileSync(dataPath);
  const cb = redo.subarray(0, 16);
  if (!hash(cb.subarray(0, 8)).equals(cb.subarray(8, 16))) out(14, ['checkpoint block unreadable (hash mismatch)']);
  const c = Number(cb.readBigUInt64BE(0));
  const values = [];
  const lsns = [];
  const torn = [];
  for (let i = 0; i < NPAGES; i++) {
    const p = data.subarray(i * PAGE, (i + 1) * PAGE);
    if (!hash(p.subarray(0, PAGE - 8)).equals(p.subarray(PAGE - 8))) torn.push(i);
    lsns.push(Number(p.readBigUInt64BE(0)));
    values.push(Number(p.readBigInt64BE(8)));
  }
  if (torn.length) out(10, [`torn pages (hash mismatch): ${torn.join(', ')}`]);
  let k = c - 1;
  for (let lsn = c; ; lsn++) {
    const at = LOG_START + (lsn - 1) * REC;
    if (at + REC > redo.length) break;
    const rec = redo.subarray(at, at + REC);
    if (!hash(rec.subarray(0, 32)).equals(rec.subarray(32, 40)) || Number(rec.readBigUInt64BE(0)) !== lsn) break;
    const a = rec.readUInt32BE(8);
    const b = rec.readUInt32BE(12);
    if (lsns[a] < lsn) [values[a], lsns[a]] = [Number(rec.readBigInt64BE(16)), lsn];
    if (lsns[b] < lsn) [values[b], lsns[b]] = [Number(rec.readBigInt64BE(24)), lsn];
    k = lsn;
  }
  const acked = Number(process.env.TORNLAB_ACKED_COUNT || 0);
  const expected = new Array(NPAGES).fill(INITIAL);
  for (let t = 1; t <= k; t++) {
    const { a, b, amount } = txn(t);
    expected[a] -= amount;
    expected[b] += amount;
  }
  const head = `checkpoint LSN ${c}, recovered through LSN ${k}, acknowledged ${acked}`;
  const wrong = [];
  for (let i = 0; i < NPAGES; i++) if (values[i] !== expected[i]) wrong.push(`page ${i}: value ${values[i]} (page LSN ${lsns[i]}), expected ${expected[i]}`);
  if (wrong.length) {
    const sum = values.reduce((s, v) => s + v, 0);
    out(sum === NPAGES * INITIAL ? 11 : 13, [head, `sum of values ${sum} (expected ${NPAGES * INITIAL})`, ...wrong.slice(0, 8)]);
  }
  if (k < acked) out(12, [head, `lost: transactions ${k + 1}..${acked} were acknowledged`]);
  out(0, [head, 'state equals the replay of the recovered transactions']);
}

const phase = process.argv[2];
if (!mount) {
  process.stderr.write('TORNLAB_MOUNT is not set: run this under tornlab exec (see README.md)\n');
  process.exit(2);
}
if (phase === 'start') start();
else if (phase === 'load') load();
else if (phase === 'verify') verify();
else {
  process.stderr.write(`usage: order.js start|load|verify (got ${phase})\n`);
  process.exit(2);
}
