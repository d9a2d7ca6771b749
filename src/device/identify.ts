/**
 * Identify data as an NVMe controller and namespace report it, the spec's
 * constraints between the fields, and what Linux derives from them.
 *
 * All atomic-write fields are 0's based counts of logical blocks (0 means one
 * block), as in the NVM Command Set spec (Identify Controller AWUN/AWUPF/ACWU,
 * Identify Namespace NAWUN/NAWUPF/NACWU/NABSN/NABO/NABSPF). NABSN and NABSPF
 * are the exception in one respect: the value 0 means "no atomic boundary".
 */
import { BadInputError } from '../util/errors';

export interface ControllerIdentify {
  /** Volatile Write Cache: present, and whether Flush with NSID=FFFFFFFFh applies to all namespaces. */
  vwc: { present: boolean; flushBroadcast: boolean };
  /** Atomic Write Unit Normal (0's based, blocks). */
  awun: number;
  /** Atomic Write Unit Power Fail (0's based, blocks). */
  awupf: number;
  /** Atomic Compare and Write Unit (0's based, blocks). */
  acwu: number;
}

export interface NamespaceIdentify {
  /** Data bytes per logical block of the active LBA format (LBAF.LBADS as bytes). */
  lbaDataSize: 512 | 4096;
  /** Namespace size in logical blocks. */
  nsze: number;
  /** NSFEAT bit 1: the NAWUN/NAWUPF/NACWU/NABSN/NABO/NABSPF fields are valid. */
  nsabp: boolean;
  nawun: number;
  nawupf: number;
  nacwu: number;
  /** Atomic Boundary Size Normal (0's based blocks; 0 = no boundary). */
  nabsn: number;
  /** Atomic Boundary Offset: LBA of the first boundary. */
  nabo: number;
  /** Atomic Boundary Size Power Fail (0's based blocks; 0 = no boundary). */
  nabspf: number;
}

export interface Identify {
  controller: ControllerIdentify;
  namespace: NamespaceIdentify;
}

/** The power-fail atomicity the device promises, in blocks, resolved from identify. */
export interface PowerFailAtomicity {
  /** Largest write (blocks) that lands all-or-nothing on power loss. */
  unitBlocks: number;
  /** Boundary size in blocks (0 = none) and the LBA of the first boundary. */
  boundaryBlocks: number;
  boundaryOffset: number;
  /** Where the numbers came from. */
  source: 'namespace' | 'controller';
}

const U16 = 0xffff;

function field(ok: boolean, name: string, rule: string, value: unknown): void {
  if (!ok) throw new BadInputError(`invalid identify data: ${name}=${String(value)} violates "${rule}"`, 'invalid-identify');
}

/**
 * Check the constraints the NVM Command Set places between the fields. A
 * profile that violates one is refused with the field and the rule named.
 */
export function validateIdentify(id: Identify): void {
  const c = id.controller;
  const n = id.namespace;
  for (const [name, v] of Object.entries({ awun: c.awun, awupf: c.awupf, acwu: c.acwu })) {
    field(Number.isInteger(v) && v >= 0 && v <= U16, name, `${name} is a 16-bit 0's based block count (0..65535)`, v);
  }
  field(c.awupf <= c.awun, 'awupf', 'AWUPF <= AWUN (power-fail atomicity cannot exceed normal atomicity)', c.awupf);
  field(n.lbaDataSize === 512 || n.lbaDataSize === 4096, 'lbaf', 'LBA data size is 512 or 4096 bytes', n.lbaDataSize);
  field(Number.isSafeInteger(n.nsze) && n.nsze > 0, 'nsze', 'NSZE is a positive block count', n.nsze);
  for (const [name, v] of Object.entries({ nawun: n.nawun, nawupf: n.nawupf, nacwu: n.nacwu, nabsn: n.nabsn, nabo: n.nabo, nabspf: n.nabspf })) {
    field(Number.isInteger(v) && v >= 0 && v <= U16, name, `${name} is a 16-bit block count (0..65535)`, v);
  }
  if (!n.nsabp) {
    // Without NSABP the namespace atomic fields are not valid and must be clear.
    for (const [name, v] of Object.entries({ nawun: n.nawun, nawupf: n.nawupf, nacwu: n.nacwu, nabsn: n.nabsn, nabo: n.nabo, nabspf: n.nabspf })) {
      field(v === 0, name, `${name} is 0 when NSFEAT.NSABP is clear`, v);
    }
    return;
  }
  field(n.nawupf <= n.nawun, 'nawupf', 'NAWUPF <= NAWUN', n.nawupf);
  field(n.nabsn === 0 || n.nawun <= n.nabsn, 'nawun', 'NAWUN <= NABSN when NABSN is non-zero', n.nawun);
  field(n.nabspf === 0 || n.nawupf <= n.nabspf, 'nawupf', 'NAWUPF <= NABSPF when NABSPF is non-zero', n.nawupf);
  field(n.nabspf <= n.nabsn || n.nabsn === 0, 'nabspf', 'NABSPF <= NABSN when NABSN is non-zero', n.nabspf);
  field(!(n.nabsn === 0 && n.nabspf === 0) || n.nabo === 0, 'nabo', 'NABO is 0 when NABSN and NABSPF are 0', n.nabo);
  field(n.nabspf === 0 || n.nabo <= n.nabspf, 'nabo', 'NABO <= NABSPF', n.nabo);
  field(n.nabsn === 0 || n.nabo <= n.nabsn, 'nabo', 'NABO <= NABSN', n.nabo);
}

/** The power-fail atomicity guarantee as the spec defines it (what the device must honour). */
export function powerFailAtomicity(id: Identify): PowerFailAtomicity {
  const n = id.namespace;
  if (n.nsabp) {
    return {
      unitBlocks: n.nawupf + 1,
      boundaryBlocks: n.nabspf === 0 ? 0 : n.nabspf + 1,
      boundaryOffset: n.nabo,
      source: 'namespace',
    };
  }
  return { unitBlocks: id.controller.awupf + 1, boundaryBlocks: 0, boundaryOffset: 0, source: 'controller' };
}

/** Does a write of `nlb` blocks at `lba` fall under the power-fail atomicity guarantee? */
export function isPowerFailAtomic(a: PowerFailAtomicity, lba: number, nlb: number): boolean {
  if (nlb <= 1) return true;
  if (nlb > a.unitBlocks) return false;
  if (a.boundaryBlocks === 0) return true;
  const first = Math.floor((lba - a.boundaryOffset) / a.boundaryBlocks);
  const last = Math.floor((lba + nlb - 1 - a.boundaryOffset) / a.boundaryBlocks);
  return first === last;
}

/** What Linux (6.13+, nvme_configure_atomic_write + blk_atomic_writes_update_limits) advertises in sysfs. */
export interface LinuxAtomicLimits {
  logical_block_size: number;
  atomic_write_unit_min_bytes: number;
  atomic_write_unit_max_bytes: number;
  atomic_write_boundary_bytes: number;
  atomic_write_max_bytes: number;
  note: string;
}

function roundDownPow2(x: number): number {
  return x <= 0 ? 0 : 2 ** Math.floor(Math.log2(x));
}

/**
 * Linux uses the namespace fields only when NSABP is set and NAWUPF is
 * non-zero, else the controller's AWUPF; it does not support a boundary
 * offset, so NABO != 0 leaves one-block atomicity. The unit max is rounded
 * down to a power of two and may not exceed the boundary.
 */
export function linuxAtomicLimits(id: Identify): LinuxAtomicLimits {
  const bs = id.namespace.lbaDataSize;
  const n = id.namespace;
  if (n.nsabp && n.nabo !== 0) {
    return {
      logical_block_size: bs,
      atomic_write_unit_min_bytes: bs,
      atomic_write_unit_max_bytes: bs,
      atomic_write_boundary_bytes: 0,
      atomic_write_max_bytes: bs,
      note: 'NABO != 0: Linux does not support an atomic boundary offset; only single-block writes are atomic',
    };
  }
  let atomicBytes: number;
  let boundary = 0;
  let note: string;
  if (n.nsabp && n.nawupf !== 0) {
    atomicBytes = (n.nawupf + 1) * bs;
    if (n.nabspf !== 0) boundary = (n.nabspf + 1) * bs;
    note = 'from NAWUPF/NABSPF (NSFEAT.NSABP set)';
  } else {
    atomicBytes = (id.controller.awupf + 1) * bs;
    note = n.nsabp ? 'NAWUPF is 0: falls back to the controller AWUPF' : 'from the controller AWUPF (NSFEAT.NSABP clear)';
  }
  let unitMax = roundDownPow2(atomicBytes);
  if (boundary !== 0) unitMax = Math.min(unitMax, roundDownPow2(boundary));
  return {
    logical_block_size: bs,
    atomic_write_unit_min_bytes: bs,
    atomic_write_unit_max_bytes: unitMax,
    atomic_write_boundary_bytes: boundary,
    atomic_write_max_bytes: atomicBytes,
    note,
  };
}

/** Render like `nvme id-ctrl` / `nvme id-ns` (the fields tornlab models) plus the Linux view. */
export function formatIdentify(id: Identify, profileName: string): string {
  const c = id.controller;
  const n = id.namespace;
  const a = powerFailAtomicity(id);
  const l = linuxAtomicLimits(id);
  const hex = (v: number) => `0x${v.toString(16)}`;
  const lines = [
    `NVME Identify Controller (profile ${profileName}):`,
    `vwc       : ${hex((c.vwc.present ? 1 : 0) | (c.vwc.flushBroadcast ? 0b110 : 0b100))}`,
    `  [0:0] : ${c.vwc.present ? 1 : 0}\tVolatile Write Cache ${c.vwc.present ? 'Present' : 'Not Present'}`,
    `awun      : ${c.awun}`,
    `awupf     : ${c.awupf}`,
    `acwu      : ${c.acwu}`,
    '',
    'NVME Identify Namespace 1:',
    `nsze      : ${hex(n.nsze)}`,
    `nsfeat    : ${hex(n.nsabp ? 0x2 : 0)}`,
    `  [1:1] : ${n.nsabp ? 1 : 0}\tNAWUN, NAWUPF, NACWU, NABSN, NABO, NABSPF ${n.nsabp ? 'Supported' : 'Not Supported'}`,
    `nawun     : ${n.nawun}`,
    `nawupf    : ${n.nawupf}`,
    `nacwu     : ${n.nacwu}`,
    `nabsn     : ${n.nabsn}`,
    `nabo      : ${n.nabo}`,
    `nabspf    : ${n.nabspf}`,
    `lbaf  0 : ms:0   lbads:${Math.log2(n.lbaDataSize)} rp:0 (in use)`,
    '',
    'Power-fail atomicity (what the device guarantees):',
    `  unit     : ${a.unitBlocks} block(s) = ${a.unitBlocks * n.lbaDataSize} bytes (${a.source})`,
    `  boundary : ${a.boundaryBlocks === 0 ? 'none' : `${a.boundaryBlocks} blocks = ${a.boundaryBlocks * n.lbaDataSize} bytes, first at LBA ${a.boundaryOffset}`}`,
    '',
    'What Linux 6.13+ advertises (/sys/block/nvme0n1/queue/):',
    `  logical_block_size            : ${l.logical_block_size}`,
    `  atomic_write_unit_min_bytes   : ${l.atomic_write_unit_min_bytes}`,
    `  atomic_write_unit_max_bytes   : ${l.atomic_write_unit_max_bytes}`,
    `  atomic_write_boundary_bytes   : ${l.atomic_write_boundary_bytes}`,
    `  atomic_write_max_bytes        : ${l.atomic_write_max_bytes}`,
    `  (${l.note})`,
  ];
  return lines.join('\n');
}
