/**
 * Running external commands (losetup, mkfs, mount, PostgreSQL tools).
 *
 * Everything here is asynchronous on purpose: the FUSE daemon that serves the
 * exported device lives on this process's event loop, so a synchronous call
 * that makes the kernel touch the exported file (mkfs, mount, umount, fsck,
 * even a sync) would wait for a FUSE answer that can never come: a deadlock.
 */
import { spawn, SpawnOptions } from 'node:child_process';
import { closeExtraPipes, noFuseFds } from './fuse-conn';

export interface CommandResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Process id the command ran as (undefined if it could not start). */
  pid?: number;
}

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
}

export class CommandError extends Error {
  constructor(readonly result: CommandResult) {
    super(`${result.command} failed (${result.timedOut ? 'timed out' : result.signal ? `signal ${result.signal}` : `exit ${result.code}`}): ${(result.stderr || result.stdout).trim().slice(0, 2000)}`);
    this.name = 'CommandError';
  }
}

/** Run a command to completion; never throws for a non-zero exit (see `runOk`). */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve) => {
    // Children must not inherit /dev/fuse (see fuse-conn.ts).
    const so: SpawnOptions = { stdio: noFuseFds(['pipe', 'pipe', 'pipe']), env: opts.env ?? process.env, cwd: opts.cwd };
    if (opts.uid !== undefined) so.uid = opts.uid;
    if (opts.gid !== undefined) so.gid = opts.gid;
    let child;
    try {
      child = spawn(file, args, so);
    } catch (e) {
      resolve({ command, code: 127, signal: null, stdout: '', stderr: String(e), timedOut: false });
      return;
    }
    closeExtraPipes(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ command, code: 127, signal: null, stdout, stderr: stderr + String(e), timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ command, code, signal, stdout, stderr, timedOut, pid: child.pid });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Run a command; a non-zero exit (or a timeout) throws a CommandError carrying its output. */
export async function runOk(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const r = await run(file, args, opts);
  if (r.code !== 0) throw new CommandError(r);
  return r;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
