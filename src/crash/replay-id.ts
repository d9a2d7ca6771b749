/**
 * Replay ids: a short text that names one crash state completely, so that
 * `tornlab replay ID` rebuilds it bit for bit.
 *
 *   tl1.<engine>.<mode>[!].<profile>[+fault...].<pageSize>.<workload>.<txns>.<seed>.p<seq>.<choice>[.r<seq>.<choice>]
 *
 * e.g. tl1.minipage.none.consumer-tlc.8192.bank.300.42.p1834.s3
 * - `!` after the mode: forced (atomic on a device that does not cover the page).
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

export interface CrashStateId {
  engine: string;
  mode: string;
  force: boolean;
  profile: string;
  faults: string[];
  pageSize: number;
  workload: string;
  txns: number;
  seed: number;
  point: number;
  choice: ChoiceRef;
  recovery?: { point: number; choice: ChoiceRef };
}

const NAME = /^[a-z0-9][a-z0-9-]*$/;

export function formatReplayId(s: CrashStateId): string {
  const parts = [
    'tl1',
    s.engine,
    s.mode + (s.force ? '!' : ''),
    [s.profile, ...s.faults].join('+'),
    String(s.pageSize),
    s.workload,
    String(s.txns),
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
  const [, engine, modeRaw, devicePart, pageSize, workload, txns, seed, point, choice] = p;
  const force = modeRaw.endsWith('!');
  const mode = force ? modeRaw.slice(0, -1) : modeRaw;
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
    profile,
    faults,
    pageSize: num('page size', pageSize),
    workload,
    txns: num('txns', txns),
    seed: num('seed', seed),
    point: pointNo('crash point', point),
    choice: choiceRef(choice),
  };
  if (p.length === 12) id.recovery = { point: pointNo('recovery crash point', p[10]), choice: choiceRef(p[11]) };
  return id;
}
