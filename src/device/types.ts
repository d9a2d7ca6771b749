/** Plain data shared by the device modules and their callers. */

/** What a write is for; the engine tags every write so costs can be split by purpose. */
export const TAGS = ['wal', 'fpi', 'doublewrite', 'page', 'meta', 'other'] as const;
export type Tag = (typeof TAGS)[number];

/**
 * Write intent hints of the asynchronous-durability RFC (linux-block, 2026):
 * CRITICAL is durable before completion (like FUA); STANDARD uses the cache;
 * EPHEMERAL may stay volatile longer (lowest destage priority, loss accepted).
 */
export const INTENTS = ['critical', 'standard', 'ephemeral'] as const;
export type Intent = (typeof INTENTS)[number];

export interface WriteOptions {
  /** Force Unit Access: durable before completion. */
  fua?: boolean;
  intent?: Intent;
  tag?: Tag;
}

export interface ReadOptions {
  /** FUA read: force the LBAs read to media before returning them. */
  fua?: boolean;
}

export type CommandKind = 'read' | 'write' | 'flush' | 'write-zeroes' | 'deallocate';

export type CommandStatus = 'success' | 'unrecovered-read-error';

export interface Completion {
  id: number;
  kind: CommandKind;
  status: CommandStatus;
  /** Simulated time of completion, microseconds since power-on. */
  completedAt: number;
  /** Read data (reads only). */
  data?: Uint8Array;
  /** Persistence token (writes and write-zeroes): await its durability confirmation instead of a Flush. */
  token?: number;
  /** LBAs that failed to read (status unrecovered-read-error). */
  badLbas?: number[];
}

/** One entry of the device command stream; crash points are positions in it. */
export interface DeviceEvent {
  /** Position in the command stream: every submission and every completion is one step. */
  seq: number;
  phase: 'submit' | 'complete';
  kind: CommandKind;
  id: number;
  lba?: number;
  nlb?: number;
  tag?: Tag;
  fua?: boolean;
  timeUs: number;
}

export interface TagCounters {
  commands: number;
  bytes: number;
}

export interface DeviceCounters {
  reads: number;
  writes: number;
  flushes: number;
  writeZeroes: number;
  /** Dataset Management deallocate commands. */
  deallocates: number;
  fuaWrites: number;
  criticalWrites: number;
  ephemeralWrites: number;
  hostReadBytes: number;
  hostWriteBytes: number;
  /** Host writes split by tag. */
  byTag: Record<Tag, TagCounters>;
  /** Host data programmed to NAND (destage, FUA, Flush, cache-off writes). */
  destagedBytes: number;
  /** Everything the NAND programmed: host data plus garbage-collection copies (FTL model, src/device/ftl.ts). */
  nandBytesProgrammed: number;
  /** Bytes the FTL's greedy GC relocated. */
  gcBytes: number;
  /** Erase-block erases (FTL model). */
  erases: number;
  /** Persistence tokens confirmed: their data physically reached media. */
  durabilityConfirmations: number;
  /** Persistence tokens retired: superseded before any of their data reached media. */
  retirements: number;
  /** Simulated time, microseconds. */
  simTimeUs: number;
}
