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
  /** Maximum Data Transfer Size: 2^MDTS x CAP.MPSMIN (4 KiB here) bytes per command; 0 or absent = no limit. */
  mdts?: number;
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

const U16 = 0xffff;

function field(ok: boolean, name: string, rule: string, value: unknown): void {
  if (!ok) throw new BadInputError(`invalid identify data: ${name}=${String(value)} violates "${rule}"`, 'invalid-identify');
}

/**
 * Check the constraints the NVM Command Set places between the fields
 * (NVM Command Set Specification revision 1.2, figure "Atomicity
 * Parameters": AWUPF <= AWUN; NAWUN >= AWUN; AWUPF <= NAWUPF <= NAWUN;
 * NACWU >= ACWU; NABSN >= NAWUN and >= AWUN; NABSPF >= NAWUPF and >= AWUPF;
 * NABO <= NABSN and <= NABSPF; NABO = 0 when NABSN and NABSPF are 0). A
 * namespace field of 0h with NSABP set means "the same as the controller
 * field" (NAWUN/NAWUPF/NACWU), and the rules compare those effective values;
 * NABSN/NABSPF of 0h mean "no boundary" and their own rules then do not apply
 * ("when the parameter is supported"). A profile that violates one is
 * refused with the field and the rule named.
 */
export function validateIdentify(id: Identify): void {
  const c = id.controller;
  const n = id.namespace;
  for (const [name, v] of Object.entries({ awun: c.awun, awupf: c.awupf, acwu: c.acwu })) {
    field(Number.isInteger(v) && v >= 0 && v <= U16, name, `${name} is a 16-bit 0's based block count (0..65535)`, v);
  }
  if (c.mdts !== undefined) field(Number.isInteger(c.mdts) && c.mdts >= 0 && c.mdts <= 20, 'mdts', 'MDTS is a power-of-two exponent (0 = no limit)', c.mdts);
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
  const nawun = orController(n.nawun, c.awun);
  const nawupf = orController(n.nawupf, c.awupf);
  const nacwu = orController(n.nacwu, c.acwu);
  field(nawun >= c.awun, 'nawun', 'NAWUN >= AWUN', n.nawun);
  field(nawupf >= c.awupf, 'nawupf', 'NAWUPF >= AWUPF', n.nawupf);
  field(nawupf <= nawun, 'nawupf', 'NAWUPF <= NAWUN (0h: the controller value)', n.nawupf);
  field(nacwu >= c.acwu, 'nacwu', 'NACWU >= ACWU', n.nacwu);
  if (n.nabsn !== 0) {
    field(n.nabsn >= nawun, 'nabsn', 'NABSN >= NAWUN', n.nabsn);
    field(n.nabsn >= c.awun, 'nabsn', 'NABSN >= AWUN', n.nabsn);
  }
  if (n.nabspf !== 0) {
    field(n.nabspf >= nawupf, 'nabspf', 'NABSPF >= NAWUPF', n.nabspf);
    field(n.nabspf >= c.awupf, 'nabspf', 'NABSPF >= AWUPF', n.nabspf);
  }
  field(n.nabo <= n.nabsn, 'nabo', 'NABO <= NABSN', n.nabo);
  field(n.nabo <= n.nabspf, 'nabo', 'NABO <= NABSPF', n.nabo);
}

/**
 * One atomicity guarantee (normal or power-fail), resolved from identify, in
 * blocks. Two rules combine (NVM Command Set 2.1.4):
 * - the controller unit (AWUN+1 / AWUPF+1) holds for every write, across
 *   namespace atomic boundaries too (a controller that cannot promise that
 *   reports 0, i.e. one block);
 * - with NSABP, the namespace unit (NAWUN/NAWUPF; 0 means "the same as
 *   AWUN/AWUPF") holds for writes that do not cross a boundary of NABSN /
 *   NABSPF blocks placed at NABO + k x size.
 */
export interface AtomicityRule {
  /** Largest write (blocks) atomic anywhere: the controller's AWUN+1 / AWUPF+1. */
  controllerUnitBlocks: number;
  /** Largest write (blocks) atomic when it stays inside one boundary segment. */
  unitBlocks: number;
  /** Boundary size in blocks (0 = none) and the LBA of the first boundary (NABO). */
  boundaryBlocks: number;
  boundaryOffset: number;
  /** Where unitBlocks came from. */
  source: 'namespace' | 'controller';
}

/** The power-fail atomicity the device promises (AWUPF / NAWUPF / NABSPF / NABO). */
export type PowerFailAtomicity = AtomicityRule;

/** Effective namespace value of a 0's based field whose 0h means "the same as the controller field". */
function orController(nsValue: number, ctrlValue: number): number {
  return nsValue === 0 ? ctrlValue : nsValue;
}

function rule(ctrl: number, nsabp: boolean, nsUnit: number, boundary: number, offset: number): AtomicityRule {
  if (nsabp && boundary !== 0 && orController(nsUnit, ctrl) > boundary) throw new RangeError('ID-2: atomic unit larger than its boundary (validateIdentify refuses this)');
  if (!nsabp) return { controllerUnitBlocks: ctrl + 1, unitBlocks: ctrl + 1, boundaryBlocks: 0, boundaryOffset: 0, source: 'controller' };
  const unit = orController(nsUnit, ctrl) + 1;
  return {
    controllerUnitBlocks: ctrl + 1,
    unitBlocks: Math.max(unit, ctrl + 1),
    boundaryBlocks: boundary === 0 ? 0 : boundary + 1,
    boundaryOffset: offset,
    source: nsUnit === 0 ? 'controller' : 'namespace',
  };
}

/** The power-fail atomicity guarantee as the spec defines it (what the device must honour). */
export function powerFailAtomicity(id: Identify): PowerFailAtomicity {
  const n = id.namespace;
  return rule(id.controller.awupf, n.nsabp, n.nawupf, n.nabspf, n.nabo);
}

/** The normal (no power loss) atomicity guarantee: AWUN / NAWUN / NABSN / NABO. */
export function normalAtomicity(id: Identify): AtomicityRule {
  const n = id.namespace;
  return rule(id.controller.awun, n.nsabp, n.nawun, n.nabsn, n.nabo);
}

/** Does a write of `nlb` blocks at `lba` fall under the atomicity guarantee `a`? */
export function isAtomicWrite(a: AtomicityRule, lba: number, nlb: number): boolean {
  if (nlb <= 1) return true;
  // The controller unit holds across boundaries (NVM-CS 2.1.4.3).
  if (nlb <= a.controllerUnitBlocks) return true;
  if (nlb > a.unitBlocks) return false;
  if (a.boundaryBlocks === 0) return true;
  const first = Math.floor((lba - a.boundaryOffset) / a.boundaryBlocks);
  const last = Math.floor((lba + nlb - 1 - a.boundaryOffset) / a.boundaryBlocks);
  return first === last;
}

/** Does a write of `nlb` blocks at `lba` fall under the power-fail atomicity guarantee? */
export function isPowerFailAtomic(a: PowerFailAtomicity, lba: number, nlb: number): boolean {
  return isAtomicWrite(a, lba, nlb);
}

/**
 * Kernel behaviours tornlab can show. Each names where its rule comes from:
 * - `v6.11`: the first NVMe atomic write support (drivers/nvme/host/core.c,
 *   "nvme: Atomic write support", merged for v6.11) through v6.16: NAWUPF /
 *   NABSPF when NSFEAT.NSABP is set and NAWUPF != 0, else the controller
 *   AWUPF (from v6.15, commit f46d273449ba "nvme: fix atomic write size
 *   validation", the subsystem's AWUPF: the same value for one controller).
 * - `mainline`: current mainline nvme_configure_atomic_write, which logs
 *   "AWUPF ignored, only NAWUPF accepted" and uses one logical block when
 *   NAWUPF is not usable (the change discussed at
 *   lore.kernel.org/linux-nvme/20250707141834.GA30198@lst.de). Default.
 * Both: NABO != 0 returns before BLK_FEAT_ATOMIC_WRITES is set ("We do not
 * support an offset for the atomic boundaries"), so nothing is advertised;
 * block/blk-settings.c blk_validate_atomic_write_limits then refuses (all
 * zeros) a boundary that is not a power of two or smaller than the atomic
 * write size, and blk_atomic_writes_update_limits caps the unit and the
 * maximum at max_hw_sectors, which MDTS sets.
 */
export const LINUX_KERNELS = ['mainline', 'v6.11'] as const;
export type LinuxKernel = (typeof LINUX_KERNELS)[number];
export const DEFAULT_LINUX_KERNEL: LinuxKernel = 'mainline';
export const LINUX_KERNEL_SOURCE: Record<LinuxKernel, string> = {
  mainline: 'Linux mainline nvme_configure_atomic_write ("AWUPF ignored, only NAWUPF accepted"; lore 20250707141834.GA30198@lst.de) + block/blk-settings.c blk_validate_atomic_write_limits',
  'v6.11': 'Linux v6.11-v6.16 ("nvme: Atomic write support", v6.11; f46d273449ba, v6.15) + block/blk-settings.c blk_validate_atomic_write_limits',
};

/** What Linux advertises in /sys/block/<dev>/queue for these identify data. */
export interface LinuxAtomicLimits {
  kernel: LinuxKernel;
  source: string;
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

function isPow2(x: number): boolean {
  return x > 0 && (x & (x - 1)) === 0;
}

/** Bytes MDTS allows in one command (2^MDTS x CAP.MPSMIN, MPSMIN taken as 4 KiB); Infinity when MDTS is 0 (no limit). */
export function mdtsBytes(c: ControllerIdentify): number {
  return c.mdts ? 2 ** c.mdts * 4096 : Infinity;
}

/** The Linux view of the atomic-write limits, per kernel behaviour (see LINUX_KERNELS). */
export function linuxAtomicLimits(id: Identify, kernel: LinuxKernel = DEFAULT_LINUX_KERNEL): LinuxAtomicLimits {
  const bs = id.namespace.lbaDataSize;
  const n = id.namespace;
  const base = { kernel, source: LINUX_KERNEL_SOURCE[kernel], logical_block_size: bs };
  const none = (note: string): LinuxAtomicLimits => ({
    ...base,
    atomic_write_unit_min_bytes: 0,
    atomic_write_unit_max_bytes: 0,
    atomic_write_boundary_bytes: 0,
    atomic_write_max_bytes: 0,
    note,
  });
  if (n.nabo !== 0) return none('NABO != 0: the nvme driver does not support an atomic boundary offset and advertises no atomic writes');
  let hwMax: number;
  let boundary = 0;
  let note: string;
  if (n.nsabp && n.nawupf !== 0) {
    hwMax = (n.nawupf + 1) * bs;
    if (n.nabspf !== 0) boundary = (n.nabspf + 1) * bs;
    note = 'from NAWUPF/NABSPF (NSFEAT.NSABP set)';
  } else if (kernel === 'v6.11') {
    hwMax = (id.controller.awupf + 1) * bs;
    note = n.nsabp ? 'NAWUPF is 0: the controller AWUPF' : 'from the controller AWUPF (NSFEAT.NSABP clear)';
  } else {
    hwMax = bs;
    note = id.controller.awupf !== 0 ? 'AWUPF ignored, only NAWUPF accepted: one logical block' : 'no NAWUPF: one logical block';
  }
  const unitMaxHw = roundDownPow2(hwMax);
  if (boundary !== 0) {
    if (hwMax > boundary) return none(`atomic write size ${hwMax} B exceeds the boundary ${boundary} B: block layer refuses atomic writes`);
    if (!isPow2(boundary / 512)) return none(`boundary ${boundary} B is not a power of two: block layer refuses atomic writes`);
  }
  const maxHw = Math.min(mdtsBytes(id.controller), 2 ** 31);
  const unitLimit = roundDownPow2(maxHw);
  const unitMax = Math.min(unitMaxHw, unitLimit);
  const atomicMax = Math.min(hwMax, maxHw);
  if (unitMax < unitMaxHw || atomicMax < hwMax) note += `; capped by MDTS (${maxHw} B per command)`;
  return {
    ...base,
    atomic_write_unit_min_bytes: Math.min(bs, unitLimit),
    atomic_write_unit_max_bytes: unitMax,
    atomic_write_boundary_bytes: boundary,
    atomic_write_max_bytes: atomicMax,
    note,
  };
}

function describeRule(r: AtomicityRule, bs: number): string[] {
  const out = [`  anywhere : ${r.controllerUnitBlocks} block(s) = ${r.controllerUnitBlocks * bs} bytes (controller unit, holds across boundaries)`];
  if (r.unitBlocks > r.controllerUnitBlocks || r.boundaryBlocks !== 0) {
    out.push(`  in-bound : ${r.unitBlocks} block(s) = ${r.unitBlocks * bs} bytes (${r.source})`);
    out.push(`  boundary : ${r.boundaryBlocks === 0 ? 'none' : `${r.boundaryBlocks} blocks = ${r.boundaryBlocks * bs} bytes, first at LBA ${r.boundaryOffset}`}`);
  }
  return out;
}

/** Render like `nvme id-ctrl` / `nvme id-ns` (the fields tornlab models) plus the Linux view per kernel behaviour. */
export function formatIdentify(id: Identify, profileName: string): string {
  const c = id.controller;
  const n = id.namespace;
  const bs = n.lbaDataSize;
  const hex = (v: number) => `0x${v.toString(16)}`;
  const lines = [
    `NVME Identify Controller (profile ${profileName}):`,
    `vwc       : ${hex((c.vwc.present ? 1 : 0) | (c.vwc.flushBroadcast ? 0b110 : 0b100))}`,
    `  [0:0] : ${c.vwc.present ? 1 : 0}\tVolatile Write Cache ${c.vwc.present ? 'Present' : 'Not Present'}`,
    `mdts      : ${c.mdts ?? 0}`,
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
    `lbaf  0 : ms:0   lbads:${Math.log2(bs)} rp:0 (in use)`,
    '',
    'Power-fail atomicity (AWUPF/NAWUPF/NABSPF/NABO; what the device guarantees):',
    ...describeRule(powerFailAtomicity(id), bs),
    'Normal atomicity (AWUN/NAWUN/NABSN/NABO):',
    ...describeRule(normalAtomicity(id), bs),
  ];
  for (const k of LINUX_KERNELS) {
    const l = linuxAtomicLimits(id, k);
    lines.push(
      '',
      `What Linux advertises, ${k}${k === DEFAULT_LINUX_KERNEL ? ' (default)' : ''} (/sys/block/nvme0n1/queue/):`,
      `  source: ${l.source}`,
      `  logical_block_size            : ${l.logical_block_size}`,
      `  atomic_write_unit_min_bytes   : ${l.atomic_write_unit_min_bytes}`,
      `  atomic_write_unit_max_bytes   : ${l.atomic_write_unit_max_bytes}`,
      `  atomic_write_boundary_bytes   : ${l.atomic_write_boundary_bytes}`,
      `  atomic_write_max_bytes        : ${l.atomic_write_max_bytes}`,
      `  (${l.note})`,
    );
  }
  return lines.join('\n');
}
