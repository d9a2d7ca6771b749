/**
 * Named, versioned device profiles and the fault switches that make a device
 * break its promises on purpose.
 *
 * Latency figures and where they come from:
 * - NAND read 40 us, program 200 us, erase 2 ms: FEMU's black-box SSD model
 *   (hw/femu/bbssd/ftl.h, NAND_READ_LATENCY / NAND_PROG_LATENCY /
 *   NAND_ERASE_LATENCY), the figures FEMU and NVMeVirt papers use for a
 *   generic MLC/TLC part.
 * - TLC program ~ 700 us and QLC ~ 2 ms: the spread the issue cites for
 *   "program ~200 us-2 ms by cell type"; consumer TLC datasheets give tPROG
 *   in the 500-900 us range for one-shot TLC programming.
 * - Consumer Flush ~ 1-2 ms with an empty cache (time to persist FTL metadata),
 *   PLP Flush ~ tens of us (a no-op apart from command overhead): the figures
 *   the issue gives, consistent with fio measurements of fdatasync latency on
 *   consumer versus enterprise NVMe drives.
 * - Command overhead ~ 5-10 us and PCIe 3.0 x4 ~ 3.2 GB/s host transfer:
 *   NVMeVirt's conventional-SSD configuration (FW_4KB_READ_LATENCY-class
 *   firmware overheads of a few us; PCIe gen3 x4 link).
 * Aggregate NAND write bandwidth is channels x (page bytes / tPROG): e.g. 8
 * channels x 16 KiB / 700 us ~ 190 MB/s for a DRAM-less TLC part out of SLC cache.
 */
import { BadInputError } from '../util/errors';
import { Identify, validateIdentify } from './identify';

export interface LatencyModel {
  /** Per-command controller overhead (us). */
  commandUs: number;
  /** Host link bandwidth, bytes per us (1 MB/s = 1 byte/us). */
  linkBytesPerUs: number;
  /** NAND page read (us). */
  nandReadUs: number;
  /** NAND program of one page-stripe (us); FUA and CRITICAL writes wait for it. */
  nandProgramUs: number;
  /** Aggregate destage bandwidth to NAND, bytes per us. */
  nandBytesPerUs: number;
  /** Fixed cost of a Flush on top of destaging the dirty cache (us). */
  flushBaseUs: number;
  /**
   * Mean of the firmware service-time spread (us): each command's controller
   * stage takes commandUs plus an exponential draw of this mean from the seeded
   * PRNG, so commands in flight on different channels complete out of order.
   */
  jitterUs: number;
  /** Controller channels (firmware cores / NAND channels) serving commands in parallel; each is FIFO. */
  channels: number;
}

export interface CacheModel {
  /** Volatile (or PLP-protected) write cache size in bytes. */
  sizeBytes: number;
  /** A completed write stays in the cache at least this long before background destage may take it (us). */
  destageDelayUs: number;
  /** EPHEMERAL writes wait this long before background destage (us). */
  ephemeralDelayUs: number;
}

export interface DeviceProfile {
  name: string;
  version: number;
  description: string;
  identify: Identify;
  /** Power-loss protection: the cache survives a power cut (the device reports VWC=0). */
  plp: boolean;
  latency: LatencyModel;
  cache: CacheModel;
  /** Endurance rating for lifetime estimates: terabytes written. */
  tbw: number;
  /** Spare NAND beyond the user capacity, as a fraction (0.07 = the 7% of a consumer drive). */
  overProvisioning: number;
  /**
   * Fraction of the user capacity the FTL model is preconditioned with before
   * the run (SNIA PTS workload-independent preconditioning). Default 1: a full
   * drive, the state device life is rated for.
   */
  preconditionFill?: number;
}

export const FAULT_NAMES = [
  'lying-flush',
  'sub-block-tear',
  'torn-atomic',
  'misdirected-write',
  'latent-sector-error',
  'inflight-read-error',
  'power-window-not-honoured',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export const FAULT_HELP: Record<FaultName, string> = {
  'lying-flush': 'Flush completes without destaging the cache: flushed data can still be lost',
  'sub-block-tear': 'a block can tear inside itself at 512 B (default) or 8 B granularity: sub-block-tear:8',
  'torn-atomic': 'the device advertises AWUPF/NAWUPF but atomic writes land per block',
  'misdirected-write': 'a cached write may land at the wrong LBA (shifted by its own length)',
  'latent-sector-error': 'one block written during the run may read back as an unrecovered read error',
  'inflight-read-error': 'blocks of writes in flight at the cut may read back as unrecovered read errors until rewritten',
  'power-window-not-honoured': 'the host-advertised power window is not honoured: the cut is immediate',
};

export interface FaultSet {
  lyingFlush: boolean;
  /** 0 = off, else the tear granularity in bytes (512 or 8). */
  subBlockTear: number;
  tornAtomic: boolean;
  misdirectedWrite: boolean;
  latentSectorError: boolean;
  inflightReadError: boolean;
  powerWindowNotHonoured: boolean;
}

export const NO_FAULTS: FaultSet = Object.freeze({
  lyingFlush: false,
  subBlockTear: 0,
  tornAtomic: false,
  misdirectedWrite: false,
  latentSectorError: false,
  inflightReadError: false,
  powerWindowNotHonoured: false,
});

/** Parse fault switches like ["lying-flush", "sub-block-tear:8"]. */
export function parseFaults(names: readonly string[]): FaultSet {
  const f: FaultSet = { ...NO_FAULTS };
  for (const raw of names) {
    const [name, arg] = raw.split(':');
    switch (name as FaultName) {
      case 'lying-flush': f.lyingFlush = true; break;
      case 'sub-block-tear': {
        const g = arg === undefined ? 512 : Number(arg);
        if (g !== 512 && g !== 8) throw new BadInputError(`fault sub-block-tear takes a granularity of 512 or 8 bytes, got "${arg}"`);
        f.subBlockTear = g;
        break;
      }
      case 'torn-atomic': f.tornAtomic = true; break;
      case 'misdirected-write': f.misdirectedWrite = true; break;
      case 'latent-sector-error': f.latentSectorError = true; break;
      case 'inflight-read-error': f.inflightReadError = true; break;
      case 'power-window-not-honoured': f.powerWindowNotHonoured = true; break;
      default:
        throw new BadInputError(`unknown fault "${raw}"; known faults: ${FAULT_NAMES.join(', ')}`);
    }
    if (arg !== undefined && name !== 'sub-block-tear') throw new BadInputError(`fault ${name} takes no argument (got "${raw}")`);
  }
  return f;
}

/** The canonical names of a fault set, for replay ids and reports. */
export function faultNames(f: FaultSet): string[] {
  const out: string[] = [];
  if (f.lyingFlush) out.push('lying-flush');
  if (f.subBlockTear) out.push(f.subBlockTear === 512 ? 'sub-block-tear' : `sub-block-tear:${f.subBlockTear}`);
  if (f.tornAtomic) out.push('torn-atomic');
  if (f.misdirectedWrite) out.push('misdirected-write');
  if (f.latentSectorError) out.push('latent-sector-error');
  if (f.inflightReadError) out.push('inflight-read-error');
  if (f.powerWindowNotHonoured) out.push('power-window-not-honoured');
  return out;
}

const GiB = 1024 ** 3;

function ns(lbaDataSize: 512 | 4096, bytes: number, atomic?: Partial<Identify['namespace']>): Identify['namespace'] {
  return {
    lbaDataSize,
    nsze: Math.floor(bytes / lbaDataSize),
    nsabp: false,
    nawun: 0,
    nawupf: 0,
    nacwu: 0,
    nabsn: 0,
    nabo: 0,
    nabspf: 0,
    ...atomic,
  };
}

const consumerLatency: LatencyModel = {
  commandUs: 8,
  linkBytesPerUs: 3200, // PCIe 3.0 x4
  nandReadUs: 60, // TLC read sits between FEMU's 40 us and ~80 us
  nandProgramUs: 700, // one-shot TLC program
  nandBytesPerUs: 190, // 8 ch x 16 KiB / 700 us
  flushBaseUs: 1500, // consumer flush 1-2 ms
  jitterUs: 8,
  channels: 4, // DRAM-less consumer controllers: 4 NAND channels
};

const enterpriseLatency: LatencyModel = {
  commandUs: 6,
  linkBytesPerUs: 7000, // PCIe 4.0 x4
  nandReadUs: 40, // FEMU NAND_READ_LATENCY
  nandProgramUs: 200, // FEMU NAND_PROG_LATENCY
  nandBytesPerUs: 2600, // 16 ch x 32 KiB / 200 us
  flushBaseUs: 20, // PLP flush: tens of us
  jitterUs: 6,
  channels: 16,
};

export const PROFILES: Record<string, DeviceProfile> = {
  'consumer-tlc': {
    name: 'consumer-tlc',
    version: 1,
    description: 'Consumer TLC NVMe: volatile write cache, no power-loss protection, single-block (4 KiB) power-fail atomicity',
    identify: { controller: { vwc: { present: true, flushBroadcast: true }, awun: 0, awupf: 0, acwu: 0, mdts: 5 }, namespace: ns(4096, 64 * GiB) },
    plp: false,
    latency: consumerLatency,
    cache: { sizeBytes: 64 * 1024 ** 2, destageDelayUs: 2000, ephemeralDelayUs: 50000 },
    tbw: 600,
    overProvisioning: 0.07,
  },
  'enterprise-plp': {
    name: 'enterprise-plp',
    version: 1,
    description: 'Enterprise NVMe with power-loss protection: the cache is non-volatile, VWC=0, every completed write survives',
    identify: { controller: { vwc: { present: false, flushBroadcast: false }, awun: 0, awupf: 0, acwu: 0, mdts: 5 }, namespace: ns(4096, 64 * GiB) },
    plp: true,
    latency: enterpriseLatency,
    cache: { sizeBytes: 1024 ** 3, destageDelayUs: 100, ephemeralDelayUs: 1000 },
    tbw: 7000,
    overProvisioning: 0.28,
  },
  'atomic-16k': {
    name: 'atomic-16k',
    // v2: the controller's AWUN/AWUPF are 0. In v1 they were 3, and a controller unit holds across
    // namespace atomic boundaries (NVM-CS 2.1.4.3), so a 16 KiB write off a boundary stayed atomic,
    // which is not what a drive that advertises atomicity at its boundaries promises.
    version: 2,
    description: 'NVMe with namespace atomics: NAWUPF and NABSPF cover 16 KiB (4 x 4 KiB blocks), NABO 0, so a 16 KiB write is atomic only inside a 16 KiB boundary (controller AWUPF 0); volatile cache, no PLP',
    identify: {
      controller: { vwc: { present: true, flushBroadcast: true }, awun: 0, awupf: 0, acwu: 0, mdts: 5 },
      namespace: ns(4096, 64 * GiB, { nsabp: true, nawun: 3, nawupf: 3, nabsn: 3, nabspf: 3, nabo: 0 }),
    },
    plp: false,
    latency: enterpriseLatency,
    cache: { sizeBytes: 256 * 1024 ** 2, destageDelayUs: 1000, ephemeralDelayUs: 20000 },
    tbw: 3500,
    overProvisioning: 0.28,
  },
  'azure-atomic-16k': {
    name: 'azure-atomic-16k',
    // v2: the controller's AWUN/AWUPF are 0, as for atomic-16k v2. Azure promises atomicity for an
    // 8 or 16 KiB write "if the issued write aligns with the respective block offset" (Azure docs,
    // "Prevent torn writes with Azure managed disks"); v1's controller AWUPF of 31 would have made a
    // 16 KiB write off a 16 KiB boundary atomic too (a controller unit holds across namespace
    // boundaries, NVM-CS 2.1.4.3), a promise the service does not make.
    version: 2,
    description: 'Cloud NVMe with 512 B LBAs and 16 KiB namespace atomics (NAWUN=NAWUPF=NABSPF=31): a write of up to 16 KiB is atomic only inside a 16 KiB boundary (controller AWUPF 0); volatile cache',
    identify: {
      controller: { vwc: { present: true, flushBroadcast: true }, awun: 0, awupf: 0, acwu: 0, mdts: 5 },
      namespace: ns(512, 64 * GiB, { nsabp: true, nawun: 31, nawupf: 31, nabsn: 31, nabspf: 31, nabo: 0 }),
    },
    plp: false,
    latency: { ...enterpriseLatency, commandUs: 30, flushBaseUs: 200 },
    cache: { sizeBytes: 256 * 1024 ** 2, destageDelayUs: 1000, ephemeralDelayUs: 20000 },
    tbw: 3500,
    overProvisioning: 0.28,
  },
  'qemu-default': {
    name: 'qemu-default',
    version: 1,
    description: "QEMU's emulated NVMe (hw/nvme) as configured by default: 512 B LBAs, VWC present, AWUN=AWUPF=0",
    identify: { controller: { vwc: { present: true, flushBroadcast: true }, awun: 0, awupf: 0, acwu: 0, mdts: 7 }, namespace: ns(512, 64 * GiB) },
    plp: false,
    latency: { ...consumerLatency, nandProgramUs: 200, nandBytesPerUs: 1000, flushBaseUs: 100 },
    cache: { sizeBytes: 64 * 1024 ** 2, destageDelayUs: 5000, ephemeralDelayUs: 50000 },
    tbw: 600,
    overProvisioning: 0.07,
  },
};

export const DEFAULT_PROFILE = 'consumer-tlc';

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

/** Look up a profile by name; an unknown name is bad input. Returns a deep copy the caller may adjust. */
export function getProfile(name: string, overrides?: { nsze?: number }): DeviceProfile {
  const p = PROFILES[name];
  if (!p) throw new BadInputError(`unknown profile "${name}"; known profiles: ${profileNames().join(', ')}`);
  const copy: DeviceProfile = JSON.parse(JSON.stringify(p));
  if (overrides?.nsze !== undefined) copy.identify.namespace.nsze = overrides.nsze;
  validateProfile(copy);
  return copy;
}

export function validateProfile(p: DeviceProfile): void {
  validateIdentify(p.identify);
  if (p.plp && p.identify.controller.vwc.present) {
    throw new BadInputError(`profile ${p.name}: a power-loss-protected device reports VWC not present (its cache is not volatile)`);
  }
  for (const [k, v] of Object.entries(p.latency)) {
    if (!(typeof v === 'number' && v >= 0 && Number.isFinite(v))) throw new BadInputError(`profile ${p.name}: latency.${k} must be a finite number >= 0`);
  }
  if (!(Number.isInteger(p.latency.channels) && p.latency.channels >= 1)) throw new BadInputError(`profile ${p.name}: latency.channels must be an integer >= 1`);
  if (p.latency.linkBytesPerUs <= 0 || p.latency.nandBytesPerUs <= 0) throw new BadInputError(`profile ${p.name}: bandwidths must be > 0`);
  if (p.preconditionFill !== undefined && !(p.preconditionFill >= 0 && p.preconditionFill <= 1)) throw new BadInputError(`profile ${p.name}: preconditionFill must be a fraction in [0, 1]`);
  if (!(p.overProvisioning > 0 && p.overProvisioning <= 4)) throw new BadInputError(`profile ${p.name}: overProvisioning must be a fraction in (0, 4], e.g. 0.07`);
}
