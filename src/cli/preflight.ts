/**
 * Checks the CLI makes before any work starts (issue 16): output paths, the
 * worker count, options that mean nothing together. Every failure is a
 * BadInputError (exit 2) naming the option and the fix.
 *
 * Invariants:
 *  1. An output path is checked for writability before the run, by writing
 *     and removing a probe file where the output will go; a run never does
 *     all its work and then fails to write.
 *  2. Nothing is left behind by a refused run: folders made for the check are
 *     removed again when the process ends with them still empty.
 *  3. Output stays inside the folder the user gave: a name from input that
 *     becomes a path (a campaign name) is checked by campaign-file.ts
 *     checkCampaign first.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { BadInputError } from '../util/errors';
import { deadRunTraces } from '../export/doctor';

/** Folders made by prepareOutputDir, removed at exit while still empty (invariant 2). */
const madeDirs: string[] = [];
let exitHookSet = false;

function removeEmptyMadeDirs(): void {
  for (const d of [...madeDirs].reverse()) {
    try {
      fs.rmdirSync(d); // fails (and keeps the folder) when anything was written into it
    } catch {
      /* not empty, or gone */
    }
  }
}

/** The nearest existing ancestor of `p` (p itself when it exists). */
function existingAncestor(p: string): string {
  let cur = p;
  while (!fs.existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

function errnoText(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** Write and remove a probe file in `dir` (invariant 1). */
function probeWritable(dir: string, option: string, shown: string): void {
  const probe = path.join(dir, `.tornlab-probe-${process.pid}`);
  try {
    fs.writeFileSync(probe, '', { flag: 'wx' });
    fs.rmSync(probe, { force: true });
  } catch (e) {
    throw new BadInputError(`${option} ${shown}: cannot write in ${dir} (${errnoText(e)}); give a path you can write to`);
  }
}

/**
 * Check that `dir` can hold output, creating it (and missing parents) now;
 * the folders made are removed at exit if nothing was written into them.
 */
export function prepareOutputDir(dir: string, option: string, shown = dir): string {
  if (dir.includes('\0')) throw new BadInputError(`${option}: the path contains a NUL byte; give a plain folder path`);
  const abs = path.resolve(dir);
  const base = existingAncestor(abs);
  if (!fs.statSync(base).isDirectory()) {
    throw new BadInputError(`${option} ${shown}: ${base} is a file, not a folder; give a folder path`);
  }
  if (base !== abs) {
    // Make the missing folders one by one, remembering each for invariant 2.
    const missing: string[] = [];
    for (let d = abs; d !== base; d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      try {
        fs.mkdirSync(d);
      } catch (e) {
        removeEmptyMadeDirs();
        throw new BadInputError(`${option} ${shown}: cannot create ${d} (${errnoText(e)}); give a path you can write to`);
      }
      madeDirs.push(d);
    }
    if (!exitHookSet) {
      process.on('exit', removeEmptyMadeDirs);
      exitHookSet = true;
    }
  }
  probeWritable(abs, option, shown);
  return abs;
}

/** Check that a file can be written at `file` (its folder is prepared as by prepareOutputDir). */
export function prepareOutputFile(file: string, option: string): string {
  if (file.includes('\0')) throw new BadInputError(`${option}: the path contains a NUL byte; give a plain file path`);
  const abs = path.resolve(file);
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) throw new BadInputError(`${option} ${file} is a folder; give a file name`);
  prepareOutputDir(path.dirname(abs), option, file);
  return abs;
}

/** Worker threads this machine can run side by side. */
export function coreCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** --workers: at least 1, at most one per core unless --force-workers. */
export function checkWorkers(n: number | undefined, force: boolean): number | undefined {
  if (n === undefined) {
    if (force) throw new BadInputError('--force-workers without --workers N forces nothing; give --workers N');
    return undefined;
  }
  if (n < 1) throw new BadInputError(`--workers must be at least 1, got ${n}`);
  const cores = coreCount();
  if (n > cores && !force) throw new BadInputError(`--workers ${n} is more than the ${cores} core(s) of this machine (it only adds memory and slows the run); use --workers ${cores} or less, or add --force-workers`);
  return n;
}

/** Refuse `given` options that mean nothing in this situation; `why` says why. */
export function refuseMeaningless(given: string[], why: string): void {
  if (given.length > 0) throw new BadInputError(`${given.join(' and ')} ${given.length > 1 ? 'do' : 'does'} nothing ${why}; leave ${given.length > 1 ? 'them' : 'it'} out`);
}

/** Warn (one line on stderr) when runs that died left resources behind; `tornlab doctor` names them. TORNLAB_LEFTOVER_WARNING=off silences it. */
export function warnLeftovers(): void {
  if (process.env.TORNLAB_LEFTOVER_WARNING === 'off') return;
  let t: ReturnType<typeof deadRunTraces>;
  try {
    t = deadRunTraces();
  } catch {
    return; // a warning only
  }
  const parts = [t.runs.length ? `${t.runs.length} run folder(s) of runs that died` : '', t.tempDirs.length ? `${t.tempDirs.length} temp folder(s) of dead runs` : ''].filter(Boolean);
  if (parts.length) process.stderr.write(`tornlab: warning: leftovers: ${parts.join(', ')}; tornlab doctor lists them, tornlab doctor --cleanup releases them\n`);
}
