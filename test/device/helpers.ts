/** Host scripts for device property tests: random command sequences with recognisable data. */
import fc from 'fast-check';
import { NvmeDevice } from '../../src/device/device';

export type Op =
  | { op: 'write'; lba: number; nlb: number; fua: boolean; intent: 'standard' | 'critical' | 'ephemeral'; wait: boolean }
  | { op: 'flush'; wait: boolean }
  | { op: 'waitAll' }
  | { op: 'advance'; us: number };

export const opArb = (nsze: number, maxNlb = 6): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), lba: fc.integer({ min: 0, max: nsze - maxNlb }), nlb: fc.integer({ min: 1, max: maxNlb }), fua: fc.boolean(), intent: fc.constantFrom('standard' as const, 'standard' as const, 'critical' as const, 'ephemeral' as const), wait: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), wait: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ op: 'waitAll' as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('advance' as const), us: fc.integer({ min: 1, max: 20000 }) }) },
  );

/** Block content that names its write: every 8-byte word holds (writeNo, blockIndex). */
export function stamp(writeNo: number, nlb: number, bs: number): Uint8Array {
  const d = new Uint8Array(nlb * bs);
  const v = new DataView(d.buffer);
  for (let b = 0; b < nlb; b++) for (let o = 0; o < bs; o += 8) {
    v.setUint32(b * bs + o, writeNo, true);
    v.setUint32(b * bs + o + 4, b + 1, true);
  }
  return d;
}

/** Which write a block holds (0 = never written / zeros); -1 if its words disagree (torn inside). */
export function stampOf(block: Uint8Array): { writeNo: number; index: number } | 'mixed' {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const w = v.getUint32(0, true);
  const i = v.getUint32(4, true);
  for (let o = 8; o < block.length; o += 8) if (v.getUint32(o, true) !== w || v.getUint32(o + 4, true) !== i) return 'mixed';
  return { writeNo: w, index: i };
}

export interface WriteLog {
  writeNo: number;
  id: number;
  lba: number;
  nlb: number;
  fua: boolean;
  intent: string;
  completed: boolean;
  /** Device seq at submission. */
  submitSeq: number;
  /** Device seq at completion (if completed). */
  completedSeq?: number;
}

export interface FlushLog {
  id: number;
  submitSeq: number;
  completed: boolean;
}

/** Run a script; returns what the host knows: writes (with completion) and flushes. */
export function runScript(dev: NvmeDevice, ops: Op[]): { writes: WriteLog[]; flushes: FlushLog[] } {
  const writes: WriteLog[] = [];
  const flushes: FlushLog[] = [];
  const byId = new Map<number, WriteLog | FlushLog>();
  dev.onEvent((e) => {
    if (e.phase !== 'complete') return;
    const l = byId.get(e.id);
    if (!l) return;
    l.completed = true;
    if ('writeNo' in l) l.completedSeq = e.seq;
  });
  for (const o of ops) {
    if (o.op === 'write') {
      const writeNo = writes.length + 1;
      const submitSeq = dev.seq + 1;
      const id = dev.submitWrite(o.lba, stamp(writeNo, o.nlb, dev.blockSize), { fua: o.fua, intent: o.intent });
      const l: WriteLog = { writeNo, id, lba: o.lba, nlb: o.nlb, fua: o.fua, intent: o.intent, completed: false, submitSeq };
      writes.push(l);
      byId.set(id, l);
      if (o.wait) dev.wait(id);
    } else if (o.op === 'flush') {
      const submitSeq = dev.seq + 1;
      const id = dev.submitFlush();
      const l: FlushLog = { id, submitSeq, completed: false };
      flushes.push(l);
      byId.set(id, l);
      if (o.wait) dev.wait(id);
    } else if (o.op === 'waitAll') {
      dev.waitAll();
    } else {
      dev.advance(o.us);
    }
    dev.assertInvariants();
  }
  return { writes, flushes };
}
