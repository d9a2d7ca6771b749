/**
 * `--deadline-factor X` for every command that runs real-database cycles: it
 * multiplies each phase's watchdog deadline (src/export/watchdog.ts), for a
 * machine slower or busier than the defaults allow for.
 */
import { setDeadlineFactor } from '../export/watchdog';
import { BadInputError } from '../util/errors';

export const DEADLINE_FACTOR_FLAGS = '--deadline-factor <x>';
export const DEADLINE_FACTOR_HELP = 'multiply every phase deadline by X (a phase past its deadline ends the cycle as harness-error, exit 3); also TORNLAB_DEADLINE_FACTOR';

export function applyDeadlineFactor(text: string | undefined): void {
  if (text === undefined) return;
  const x = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(x > 0) || x > 1000) throw new BadInputError(`--deadline-factor must be a number above 0 and at most 1000, got "${text}"`);
  setDeadlineFactor(x);
}
