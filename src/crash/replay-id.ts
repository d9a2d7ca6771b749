/**
 * Replay ids: a short text that names one crash state completely, so that
 * `tornlab replay ID` rebuilds it bit for bit.
 *
 *   tl1.<engine>.<mode>[!][@<commit>].<profile>[+fault...].<pageSize>.<workload>.<txns>.<seed>.p<seq>.<choice>[.r<seq>.<choice>]
 *
 * e.g. tl1.minipage.none.consumer-tlc.8192.bank.300.42.p1834.s3
 * - `!` after the mode: forced (atomic on a device that does not cover the page).
 * - @<commit>: how commits were made durable, absent for the default (Flush),
 *   so ids of default cells never change: @fua, @token, @critical,
 *   @window<N>ms or @window<N>us (the advertised power window).
 * - %<sabotage> after the mode (and '!'): a positive control, the engine's sabotage switch.
 * - <txns> may carry the cell's scale: 300k2000f32e40b32 = 300 txns, keys 2000,
 *   frames 32, checkpoint every 40, checkpoint batch 32 (each part only when set).
 * - p<seq>: the crash point, a position in the device command stream.
 * - <choice>: the survivor choice at that point, e<base36 index> (enumerated)
 *   or s<n> (the n-th seeded sample; see device/power-loss resolveChoice).
 * - r<seq>.<choice>: a second power cut during recovery, at that position of
 *   the recovery's own command stream.
 * Everything else a crash state depends on is a pure function of these fields
 * (the workload, the device and the engine are deterministic in the seed).
 */
import { BadInputError } from '../util/errors';
import { ChoiceRef, formatChoiceRef, parseChoiceRef } from '../device/power-loss';
import { CellSpec, CommitMethod, modeLabel, SCALE_KEYS, SCALE_LETTER } from './cell';
import { canonicalFaults } from './faults';

/** The cell fields a crash state depends on, plus where the power was cut and what survived. */
export type CrashStateId = Pick<CellSpec, 'engine' | 'mode' | 'force' | 'commit' | 'windowMs' | 'profile' | 'faults' | 'pageSize' | 'workload' | 'txns' | 'seed' | 'sabotage' | 'keys' | 'frames' | 'checkpointEvery' | 'checkpointBatch'> & {
  point: number;
  choice: ChoiceRef;
  recovery?: { point: number; choice: ChoiceRef };
};

const NAME = /^[a-z0-9][a-z0-9-]*$/;

export function formatReplayId(s: CrashStateId): string {
  const parts = [
    'tl1',
    s.engine,
    modeLabel(s),
    [s.profile, ...canonicalFaults(s.faults)].join('+'),
    String(s.pageSize),
    s.workload,
    String(s.txns) + SCALE_KEYS.map((k) => (s[k] === undefined ? '' : `${SCALE_LETTER[k]}${s[k]}`)).join(''),
    String(s.seed),
    `p${s.point}`,
    formatChoiceRef(s.choice),
  ];
  if (s.recovery) parts.push(`r${s.recovery.point}`, formatChoiceRef(s.recovery.choice));
  return parts.join('.');
}

export function parseReplayId(text: string): CrashStateId {
  const bad = (why: string) =>
    new BadInputError(`"${text}" is not a replay id (${why}); expected tl1.<engine>.<mode>.<profile>[+fault].<pageSize>.<workload>.<txns>.<seed>.p<seq>.<choice>[.r<seq>.<choice>]`);
  const p = text.trim().split('.');
  if (p[0] !== 'tl1') throw bad('it does not start with tl1');
  if (p.length !== 10 && p.length !== 12) throw bad(`it has ${p.length} fields`);
  const [, engine, modeField, devicePart, pageSize, workload, txns, seed, point, choice] = p;
  const [modeRaw, commitRaw, ...extra] = modeField.split('@');
  if (extra.length > 0) throw bad(`mode "${modeField}" has more than one @`);
  const [modeBang, sabotage, ...extraSab] = modeRaw.split('%');
  if (extraSab.length > 0) throw bad(`mode "${modeField}" has more than one %`);
  if (sabotage !== undefined && !NAME.test(sabotage)) throw bad(`sabotage "${sabotage}"`);
  const force = modeBang.endsWith('!');
  const mode = force ? modeBang.slice(0, -1) : modeBang;
  const commit = commitRaw === undefined ? undefined : parseCommit(commitRaw, bad);
  const [profile, ...faults] = devicePart.split('+');
  for (const [k, v] of Object.entries({ engine, mode, profile, workload })) if (!NAME.test(v)) throw bad(`${k} "${v}"`);
  const num = (k: string, v: string) => {
    if (!/^[0-9]+$/.test(v)) throw bad(`${k} "${v}" is not a number`);
    return Number(v);
  };
  const pointNo = (k: string, v: string) => {
    if (!/^[pr][0-9]+$/.test(v)) throw bad(`${k} "${v}"`);
    return Number(v.slice(1));
  };
  const choiceRef = (v: string) => {
    try {
      return parseChoiceRef(v);
    } catch (e) {
      throw bad((e as Error).message);
    }
  };
  const id: CrashStateId = {
    engine,
    mode,
    force,
    ...commit,
    profile,
    faults,
    pageSize: num('page size', pageSize),
    workload,
    ...(sabotage !== undefined ? { sabotage } : {}),
    ...scaleOf(txns, bad),
    seed: num('seed', seed),
    point: pointNo('crash point', point),
    choice: choiceRef(choice),
  };
  if (p.length === 12) id.recovery = { point: pointNo('recovery crash point', p[10]), choice: choiceRef(p[11]) };
  return id;
}

/** The txns field: a count, then optional scale parts in SCALE_KEYS order (k, f, e, b). */
function scaleOf(v: string, bad: (why: string) => Error): Pick<CrashStateId, 'txns' | 'keys' | 'frames' | 'checkpointEvery' | 'checkpointBatch'> {
  const m = /^([0-9]+)((?:[a-z][0-9]+)*)$/.exec(v);
  if (!m) throw bad(`txns "${v}" is not a number with scale parts`);
  const out: ReturnType<typeof scaleOf> = { txns: Number(m[1]) };
  let rest = m[2];
  for (const k of SCALE_KEYS) {
    const p = new RegExp(`^${SCALE_LETTER[k]}([0-9]+)`).exec(rest);
    if (!p) continue;
    out[k] = Number(p[1]);
    rest = rest.slice(p[0].length);
  }
  if (rest) throw bad(`txns "${v}": scale parts must be k, f, e, b in that order`);
  return out;
}

/** '@' part of the mode field: fua | token | critical | window<N>ms | window<N>us (flush is never written). */
function parseCommit(v: string, bad: (why: string) => Error): { commit: CommitMethod; windowMs?: number } {
  if (v === 'fua' || v === 'token' || v === 'critical') return { commit: v };
  const w = /^window([1-9][0-9]*)(ms|us)$/.exec(v);
  if (w) {
    const n = Number(w[1]);
    // Canonical form only: a whole number of ms is written in ms, so that one state has one id.
    if (w[2] === 'us' && n % 1000 === 0) throw bad(`commit "${v}": write window${n / 1000}ms`);
    return { commit: 'window', windowMs: w[2] === 'ms' ? n : n / 1000 };
  }
  throw bad(`commit "${v}": use fua, token, critical, window<N>ms or window<N>us (flush is the default and is not written)`);
}

// ------------------------------------------------------------------------
// Cycle ids of real databases
//
//   <kind>[@<runtime>]:<body>:seed=<S>:cycle=<N>        (exec: no body)
//
// e.g. pg:consumer-tlc:fpw=off:checkpoint:seed=1:cycle=3, or
// mariadb@container11.8:atomic-16k:dblwr=off:...:seed=7:cycle=0. The kind is
// the adapter's (engines/registry.ts), the runtime names a container and its
// version, and the body is the engine's own: it names everything else the
// cycle depends on. A real kernel's timing is not under the seed, so a rerun
// reproduces the situation (device, workload, cut threshold, survivor
// choice), not necessarily the bytes. Engines whose body does not name the
// whole cell (SQLite: not the device; exec: not the commands) document a
// cycle with it but cannot rerun it from the id alone.

/** A real-database cycle's replay id, split into the fields every engine shares. */
export interface CycleReplayId {
  kind: string;
  /** e.g. container17, container11.8; absent for the local binaries. */
  runtime?: string;
  /** The engine's fields, ':'-separated ('' for none). */
  body: string;
  seed: number;
  cycle: number;
}

const CYCLE_ID = /^([a-z][a-z0-9]*)(?:@([a-z0-9.]+))?:(?:(.*):)?seed=(-?[0-9]+):cycle=([0-9]+)$/;

export function formatCycleReplayId(id: CycleReplayId): string {
  return `${id.kind}${id.runtime ? `@${id.runtime}` : ''}:${id.body ? `${id.body}:` : ''}seed=${id.seed}:cycle=${id.cycle}`;
}

/** The shared fields of a cycle id; the body is left to the engine. Throws BadInputError naming the grammar. */
export function parseCycleReplayId(text: string): CycleReplayId {
  const m = CYCLE_ID.exec(text.trim());
  if (!m) throw new BadInputError(`"${text.trim()}" is not a replay id: a crash state of the mini engine is tl1.<engine>.…, a real-database cycle <kind>[@<runtime>]:<fields>:seed=<S>:cycle=<N>; copy it from a report or a run's output`);
  return { kind: m[1], ...(m[2] ? { runtime: m[2] } : {}), body: m[3] ?? '', seed: Number(m[4]), cycle: Number(m[5]) };
}

/** A crash state of an in-process engine (tl1.…), as opposed to a real-database cycle. */
export function isCrashStateReplayId(text: string): boolean {
  return text.trim().startsWith('tl1.');
}

/**
 * The cell's fields that differ from the engine's defaults (load length,
 * data set, server settings, namespace size...), as one body segment
 * `w~<base64url of JSON>`; '' when none differ, so the ids of default cells
 * stay short and older ids stay valid. Only `keys` are written, in that order.
 */
export function overridesSegment<T extends object>(cfg: T, defaults: Partial<T>, keys: readonly (keyof T & string)[]): string {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (cfg[k] !== undefined && JSON.stringify(cfg[k]) !== JSON.stringify(defaults[k])) out[k] = cfg[k];
  return Object.keys(out).length ? 'w~' + Buffer.from(JSON.stringify(out)).toString('base64url') : '';
}

/** Read back an overridesSegment ('' or undefined: none); each value must have the default's type (numbers, or an object of strings). */
export function parseOverridesSegment<T extends object>(seg: string | undefined, defaults: Partial<T>, keys: readonly (keyof T & string)[], id: string): Partial<T> {
  if (!seg) return {};
  const bad = (why: string) => new BadInputError(`"${id.trim()}": its cell fields (after w~) ${why}; copy the replay id whole`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(seg.replace(/^w~/, ''), 'base64url').toString('utf8'));
  } catch {
    throw bad('do not decode');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('do not decode');
  const out: Partial<T> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!(keys as readonly string[]).includes(k)) throw bad(`name "${k}", which this engine does not know`);
    const d = (defaults as Record<string, unknown>)[k];
    const ok = typeof d === 'number' || d === undefined ? typeof x === 'number' && Number.isFinite(x) : typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((s) => typeof s === 'string');
    if (!ok) throw bad(`give ${k} a value of the wrong type`);
    (out as Record<string, unknown>)[k] = x;
  }
  return out;
}

/**
 * An engine's view of its own ids: the envelope of `kind`, its body matched
 * against the engine's body pattern, and the container version of its runtime
 * (`container<version>`, matched against `version`). Anything else throws the
 * engine's own error (`bad`), which names its grammar.
 */
export function matchCycleReplayId(text: string, kind: string, body: RegExp, version: RegExp, bad: () => Error): { env: CycleReplayId; m: RegExpExecArray; containerVersion?: string } {
  let env: CycleReplayId;
  try {
    env = parseCycleReplayId(text);
  } catch {
    throw bad();
  }
  const m = body.exec(env.body);
  const rt = env.runtime === undefined ? undefined : /^container(.+)$/.exec(env.runtime);
  if (env.kind !== kind || !m || (env.runtime !== undefined && !(rt && new RegExp(`^(?:${version.source})$`).test(rt[1])))) throw bad();
  return { env, m, ...(rt ? { containerVersion: rt[1] } : {}) };
}
