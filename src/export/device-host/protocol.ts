/**
 * Messages between the orchestrator (client.ts) and the device host
 * (host.ts), over the child-process IPC channel with structured-clone
 * ("advanced") serialization. Plain data only: the device, its crash points
 * and its images never leave the host; the orchestrator holds ids.
 */
import type { DeviceCounters, Tag } from '../../device/types';
import type { FuseFileStats, GateState, WriteTrace } from '../fuse-file';
export type { WriteTrace };

/** How the host builds a device: a profile by name, fault switches by name, optionally powered on from a held image. */
export interface DeviceSpec {
  profile: string;
  faults?: string[];
  seed: number;
  /** Namespace size override (blocks). */
  nsze?: number;
  /** Power on from an image the host holds (see `snapshot`). */
  image?: number;
}

export interface DeviceInfo {
  dev: number;
  profile: string;
  seed: number;
  blockSize: number;
  nsze: number;
}

/** What the orchestrator learns of a crash point (the point itself stays in the host). */
export interface CutInfo {
  seq: number;
  seed: number;
  timeUs: number;
  pendingWrites: number;
  pendingBlocks: number;
  /** Writes at risk, as `lba+nlb`. */
  pendingLbas: string[];
  /** The write whose service made an armed cut strike (absent when the cut came otherwise). */
  trigger?: { lba: number; nlb: number };
}

/** When an armed cut strikes (see fuse-file.ts CutTrigger). */
export interface CutTriggerSpec {
  afterWrites?: number;
  dirtyBytesAtLeast?: number;
  minWriteBytes?: number;
  maxWriteBytes?: number;
  withinBlocks?: [number, number][];
  notAtomicWrites?: boolean;
}

/** Which pending writes survive: a fresh seeded stream, a given choice, or the n-th in enumeration order. */
export type SurvivorSpec = { seed: number; label: string; tear?: { lba: number; nlb: number } } | { choice: number[] } | { index: string };

/** The FUSE export's counters (fuse-file.ts), plus its gate and the requests held since a cut. */
export type ExportStats = FuseFileStats & {
  heldCount: number;
  gate: GateState;
};

export type Request =
  | { op: 'ping' }
  | { op: 'create'; spec: DeviceSpec }
  | { op: 'counters'; dev: number }
  | { op: 'snapshot'; dev: number }
  | { op: 'drop-image'; image: number }
  | { op: 'drop'; dev: number }
  | { op: 'mount'; dev: number; mountPoint: string; tag: Tag }
  | { op: 'cut'; dev: number }
  | { op: 'arm'; dev: number; trigger: CutTriggerSpec }
  | { op: 'disarm'; dev: number }
  | { op: 'fail-pending'; dev: number }
  | { op: 'stats'; dev: number }
  | { op: 'reset-max-dirty'; dev: number }
  /** Start tracing write requests, or take the trace so far (and start anew). */
  | { op: 'trace'; dev: number; action: 'start' | 'take' }
  | { op: 'unmount'; dev: number }
  | { op: 'power-on-crash-image'; dev: number; survivors: SurvivorSpec }
  /** Direct device access (tests, tools): a write that completes, a read. */
  | { op: 'write'; dev: number; lba: number; data: Uint8Array }
  | { op: 'read'; dev: number; lba: number; nlb: number }
  /** Test hook: stop answering FUSE requests without a cut (a hung handler). */
  | { op: 'hang'; dev: number };

export interface Responses {
  ping: { pid: number };
  create: DeviceInfo;
  counters: DeviceCounters;
  snapshot: { image: number; blocks: number };
  'drop-image': null;
  drop: null;
  mount: { filePath: string };
  cut: CutInfo;
  arm: null;
  disarm: null;
  'fail-pending': null;
  stats: ExportStats;
  'reset-max-dirty': null;
  trace: (WriteTrace & { truncated: boolean }) | null;
  unmount: null;
  'power-on-crash-image': { device: DeviceInfo; choices: string; choice: number[]; changedBlocks: number };
  hang: null;
  write: null;
  read: Uint8Array;
}

export type ToHost = { kind: 'request'; id: number; req: Request };

export type FromHost =
  | { kind: 'response'; id: number; ok: true; value: unknown }
  | { kind: 'response'; id: number; ok: false; error: { name: string; message: string; badInput: boolean } }
  | { kind: 'cut'; dev: number; cut: CutInfo };
