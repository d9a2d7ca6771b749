/**
 * Validation of `tornlab exec` input, before anything is mounted or started:
 * the mount directory (empty, not a mount point), the user's commands (their
 * program must be found), and the numbers. Every failure is a BadInputError
 * naming the option and how to fix it (CLI exit 2).
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { BadInputError } from '../../src/util/errors';

export interface ExecCommands {
  start: string;
  load: string;
  verify: string;
}

/** Split a shell command's leading words well enough to find its program (quotes and backslashes honoured). */
export function shellWords(cmd: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let q: '"' | "'" | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (q) {
      if (c === q) q = undefined;
      else if (c === '\\' && q === '"' && i + 1 < cmd.length) cur += cmd[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (c === '\\' && i + 1 < cmd.length) {
      cur += cmd[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) words.push(cur);
      cur = '';
      has = false;
    } else if (';|&<>()'.includes(c)) {
      if (has || cur) words.push(cur);
      words.push(c);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (q) throw new BadInputError(`unterminated ${q} quote in command: ${cmd}`);
  if (has || cur) words.push(cur);
  return words;
}

/** The program a shell command runs first (skipping VAR=value assignments), or undefined for an empty command. */
export function programOf(cmd: string): string | undefined {
  for (const w of shellWords(cmd)) {
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) continue;
    return w;
  }
  return undefined;
}

/** Is `program` something sh can run: a builtin, a path to an executable, or found on PATH? */
export function commandExists(program: string, cwd?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sh = spawn('/bin/sh', ['-c', 'command -v -- "$1" >/dev/null 2>&1', 'sh', program], { stdio: 'ignore', cwd });
    sh.on('error', () => resolve(false));
    sh.on('close', (code) => {
      if (code !== 0) return resolve(false);
      if (!program.includes('/')) return resolve(true);
      // command -v accepts a path that exists; insist it is an executable file.
      const p = path.resolve(cwd ?? process.cwd(), program);
      fs.promises.access(p, fs.constants.X_OK).then(
        () => fs.promises.stat(p).then((s) => resolve(s.isFile()), () => resolve(false)),
        () => resolve(false),
      );
    });
  });
}

export async function validateCommands(c: ExecCommands): Promise<void> {
  for (const [name, cmd] of Object.entries(c) as [keyof ExecCommands, string][]) {
    if (typeof cmd !== 'string' || !cmd.trim()) throw new BadInputError(`--${name} needs a command (a shell command line)`);
    const prog = programOf(cmd);
    if (!prog) throw new BadInputError(`--${name} "${cmd}" names no program`);
    if (!(await commandExists(prog))) {
      throw new BadInputError(`--${name}: command not found: "${prog}" (from "${cmd}"); give a path to an executable or a program on PATH`);
    }
  }
}

/** Decode the octal escapes /proc/self/mountinfo uses for spaces and the like. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at `dir` or below it (synchronous: for exit handlers). */
export function mountsAtOrUnder(dir: string): string[] {
  const abs = path.resolve(dir);
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => unescapeMount(l.split(' ')[4] ?? ''))
    .filter((m) => m === abs || m.startsWith(abs + '/'));
}

export async function isMountPoint(dir: string): Promise<boolean> {
  const real = await fs.promises.realpath(dir);
  const info = await fs.promises.readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l && unescapeMount(l.split(' ')[4] ?? '') === real);
}

/**
 * The mount directory must be absent (we create it) or an empty directory that
 * is not itself a mount point: the emulated device is mounted over it, and
 * whatever it held would be hidden and look like the database's files.
 * Returns the absolute path and whether it was created here (so teardown removes it).
 */
export async function prepareMountDir(dir: string): Promise<{ dir: string; created: boolean }> {
  if (!dir) throw new BadInputError('--mount needs a directory');
  const abs = path.resolve(dir);
  if (abs === '/') throw new BadInputError('--mount / is not allowed: give an empty directory');
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(abs);
  } catch {
    try {
      await fs.promises.mkdir(abs, { recursive: false });
    } catch (e) {
      throw new BadInputError(`--mount ${abs}: cannot create it (${(e as Error).message}); create its parent directory first`);
    }
    return { dir: abs, created: true };
  }
  if (!st.isDirectory()) throw new BadInputError(`--mount ${abs} is not a directory`);
  if (await isMountPoint(abs)) throw new BadInputError(`--mount ${abs} is already a mount point; give an empty directory that nothing is mounted on`);
  const entries = await fs.promises.readdir(abs);
  if (entries.length) throw new BadInputError(`--mount ${abs} is not empty (${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', ...' : ''}); give an empty directory`);
  return { dir: abs, created: false };
}

export function parsePositiveInt(raw: string | number, option: string, max = 1_000_000): number {
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new BadInputError(`${option} must be an integer from 1 to ${max}, got "${raw}"`);
  return n;
}

/** A duration in seconds (decimals allowed), more than 0 and at most `max`. */
export function parseSeconds(raw: string | number, option: string, max = 86_400): number {
  const n = typeof raw === 'number' ? raw : /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new BadInputError(`${option} must be a number of seconds above 0 and at most ${max}, got "${raw}"`);
  return n;
}

export function parseSeed(raw: string | number): number {
  const n = typeof raw === 'number' ? raw : /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new BadInputError(`--seed must be a non-negative integer, got "${raw}"`);
  return n;
}
