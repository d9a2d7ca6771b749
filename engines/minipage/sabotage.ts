/**
 * The engine's fault set (positive controls) and its crash windows, in one
 * place, beside the device's fault switches (src/device/profiles.ts).
 *
 * Every ordering step of every protection, of the WAL and of the checkpoint
 * is a named step; the engine performs it through `Steps` (`flush(step)`,
 * `keeps(step)`) and never tests a sabotage switch itself. A sabotage switch
 * drops (or reorders) exactly one step. A campaign runs each sabotaged
 * variant beside the real cells and must catch it: sensitivity = caught /
 * tried (ARCHITECTURE 3).
 *
 * Crash windows: each protection (and the WAL and checkpoint code) names the
 * stretches of the device command stream where its ordering matters. The
 * engine marks where each opens and closes (`open`, `close`; windows that end
 * at "the next Flush" close in `flush`). A crash point p (a capture after
 * event p) lies in window [from, to) when from <= p < to: `from` is the first
 * event inside, `to` the event that closes it (its effect is visible at p = to).
 *
 * Invariants:
 *  W1 every interval has from <= to, and intervals are recorded in close order;
 *  W2 a window's name is one of WINDOWS and is declared by the mode (windowsFor);
 *  S1 a sabotage switch names one step of SABOTAGES; an unknown name is an error at entry.
 */
import { NvmeDevice } from '../../src/device/device';
import { BadInputError } from '../../src/util/errors';
import type { ProtectionMode } from './layout';

/** Crash windows by name: what is exposed while the window is open. */
export const WINDOWS = {
  'wal.commit-unflushed': 'WAL records of a group commit written, not yet durable (the commit is not acknowledged yet)',
  'ckpt.redo-to-end': 'a checkpoint between its redo point and its control block: pages being written, the previous redo point still rules',
  'ckpt.control-unflushed': 'control block (new redo point) written, not yet on media',
  'dw.area-unflushed': 'doublewrite area written, not yet flushed',
  'dw.inplace-unflushed': 'in-place page writes issued after the doublewrite copies, not yet flushed (before the area is reused)',
  'page.inplace-unflushed': 'page written in place, not yet flushed',
} as const;
export type WindowName = keyof typeof WINDOWS;

/** The windows a protection mode declares (ARCHITECTURE 3): the WAL and checkpoint ones, plus its own. */
export function windowsFor(mode: ProtectionMode): WindowName[] {
  const common: WindowName[] = ['wal.commit-unflushed', 'ckpt.redo-to-end', 'ckpt.control-unflushed'];
  return mode === 'doublewrite' ? [...common, 'dw.area-unflushed', 'dw.inplace-unflushed'] : [...common, 'page.inplace-unflushed'];
}

export interface SabotageSpec {
  /** What the switch breaks, one line. */
  what: string;
  /** The modes whose claim the step carries (a control runs on a claims-safe cell of one of them). */
  modes: readonly ProtectionMode[];
  /** The window a crash must land in to expose it. */
  window: WindowName;
}

/** The engine fault set: one switch per ordering step. */
export const SABOTAGES = {
  'dw-no-flush-after-area': { what: 'doublewrite: drop the Flush after the doublewrite-area write (in-place writes may land before their copies)', modes: ['doublewrite'], window: 'dw.area-unflushed' },
  'dw-no-flush-after-inplace': { what: 'doublewrite: drop the Flush after the in-place writes (the area is reused while pages may still tear)', modes: ['doublewrite'], window: 'dw.inplace-unflushed' },
  'dw-no-restore': { what: 'doublewrite: skip the restore from the doublewrite area before redo', modes: ['doublewrite'], window: 'dw.inplace-unflushed' },
  'fpw-no-image': { what: 'fpw: never log a full page image (first change after the redo point logged as a delta)', modes: ['fpw'], window: 'page.inplace-unflushed' },
  'atomic-split-write': { what: 'atomic: write each page as two commands (the single-command rule broken)', modes: ['atomic'], window: 'page.inplace-unflushed' },
  'wal-ack-before-flush': { what: 'WAL: acknowledge a group commit before the WAL Flush (the Flush is dropped)', modes: ['doublewrite', 'fpw', 'atomic'], window: 'wal.commit-unflushed' },
  'wal-no-crc': { what: 'WAL: skip the record CRC check when reading the log at recovery', modes: ['fpw'], window: 'wal.commit-unflushed' },
  'page-no-crc': { what: 'pages: skip the page checksum check when reading a page (torn pages pass as valid)', modes: ['doublewrite'], window: 'dw.inplace-unflushed' },
  'ckpt-control-early': { what: 'checkpoint: write the control block before the Flush of the checkpoint pages (doublewrite flushes its pages itself: no step to break there)', modes: ['fpw', 'atomic'], window: 'ckpt.redo-to-end' },
  'ckpt-wrong-redo': { what: 'checkpoint: record the insert position at the end of the checkpoint as its redo point, not the one at its start', modes: ['doublewrite', 'fpw', 'atomic'], window: 'ckpt.redo-to-end' },
} as const satisfies Record<string, SabotageSpec>;
export type SabotageName = keyof typeof SABOTAGES;
export const SABOTAGE_NAMES = Object.keys(SABOTAGES) as SabotageName[];

export function checkSabotage(names: readonly string[]): SabotageName[] {
  for (const n of names) {
    if (!(n in SABOTAGES)) throw new BadInputError(`unknown sabotage switch "${n}": use ${SABOTAGE_NAMES.join(', ')}`);
  }
  return [...new Set(names as SabotageName[])].sort();
}

/** Steps the engine performs through `Steps`; each maps to at most one sabotage switch. */
export type FlushStep = 'dw.after-area' | 'dw.after-inplace' | 'wal.commit' | 'ckpt.before-control' | 'recovery';
export type KeepStep = 'dw.restore' | 'fpw.image' | 'atomic.single-command' | 'wal.crc' | 'page.crc' | 'ckpt.redo-at-begin' | 'ckpt.flush-before-control';

const FLUSH_SWITCH: Partial<Record<FlushStep, SabotageName>> = {
  'dw.after-area': 'dw-no-flush-after-area',
  'dw.after-inplace': 'dw-no-flush-after-inplace',
  'wal.commit': 'wal-ack-before-flush',
};
const KEEP_SWITCH: Record<KeepStep, SabotageName> = {
  'dw.restore': 'dw-no-restore',
  'fpw.image': 'fpw-no-image',
  'atomic.single-command': 'atomic-split-write',
  'wal.crc': 'wal-no-crc',
  'page.crc': 'page-no-crc',
  'ckpt.redo-at-begin': 'ckpt-wrong-redo',
  'ckpt.flush-before-control': 'ckpt-control-early',
};

export interface WindowInterval {
  name: WindowName;
  from: number;
  to: number;
}

/** Windows that close at the next Flush. */
const UNTIL_FLUSH: readonly WindowName[] = ['dw.area-unflushed', 'dw.inplace-unflushed', 'page.inplace-unflushed'];

/** An engine's ordering steps: the sabotage switches it runs with, and the crash windows it marks. */
export class Steps {
  readonly sabotage: ReadonlySet<SabotageName>;
  /** Closed windows, in close order (W1). Only recorded when `record` is on. */
  readonly intervals: WindowInterval[] = [];
  private readonly openAt = new Map<WindowName, number>();

  /** Record window intervals (the campaign's runs turn it on after create); recovery does not. */
  record = false;

  constructor(
    private readonly dev: NvmeDevice,
    sabotage: readonly string[] = [],
  ) {
    this.sabotage = new Set(checkSabotage(sabotage));
  }

  /** Does the engine perform this step (false: its sabotage switch is on)? */
  keeps(step: KeepStep): boolean {
    return !this.sabotage.has(KEEP_SWITCH[step]);
  }

  /** A Flush that is an ordering step; closes the windows that end at a Flush. */
  flush(step: FlushStep): void {
    const s = FLUSH_SWITCH[step];
    if (s && this.sabotage.has(s)) return;
    this.dev.flush();
    for (const w of UNTIL_FLUSH) this.close(w);
  }

  /** The window opens at the next device event (no-op if already open). */
  open(name: WindowName): void {
    if (!this.record || this.openAt.has(name)) return;
    this.openAt.set(name, this.dev.seq + 1);
  }

  /** The window closes at the last device event (whose effect a crash there already sees). */
  close(name: WindowName): void {
    if (!this.record) return;
    const from = this.openAt.get(name);
    if (from === undefined) return;
    this.openAt.delete(name);
    const to = this.dev.seq;
    if (to > from) this.intervals.push({ name, from, to });
  }

  /** End of a run: windows still open extend to the end of the stream (a crash there still hits them). */
  closeAll(): void {
    for (const name of [...this.openAt.keys()]) {
      const from = this.openAt.get(name)!;
      this.openAt.delete(name);
      const to = this.dev.seq + 1;
      if (to > from) this.intervals.push({ name, from, to });
    }
  }
}
