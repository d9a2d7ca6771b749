/**
 * Shared pieces of the robustness tests (kill.test.ts, load.test.ts): start a
 * `tornlab` CLI run as a child process, find the run ids it created, and list
 * what of it is left in the kernel and in /proc afterwards.
 *
 * Everything here is scoped to runs this test process started: run ids are
 * `r<pid>-<time>` (ledger.ts), so a run belongs to us when its pid is one of
 * our children's and the id did not exist before the child was spawned. Every
 * child also carries TORNLAB_TEST_TAG=<tag> in its environment, which the
 * device host and every tool the orchestrator spawns (mkfs, mount, losetup,
 * e2fsck, the exec commands) inherit — so an orphaned tool that carries no run
 * marker is still found. Mounts, loop devices and processes of anyone else are
 * never listed, let alone touched.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentMounts, loopDevices } from '../../src/export/doctor';
import { HOST_ENV, PLAIN_ROOT, RUN_ENV, RUNTIME_ROOT } from '../../src/export/ledger';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');
export const TAG_ENV = 'TORNLAB_TEST_TAG';

export function requireBuilt(): void {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliRun {
  child: ChildProcess;
  pid: number;
  tag: string;
  args: string[];
  startedAt: number;
  /** Run folders that existed before the child started (a recycled pid's, not ours). */
  before: Set<string>;
  exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

function listDir(d: string): string[] {
  try {
    return fs.readdirSync(d);
  } catch {
    return [];
  }
}

function allRunFolders(): string[] {
  return [...listDir(RUNTIME_ROOT).map((n) => path.join(RUNTIME_ROOT, n)), ...listDir(PLAIN_ROOT).map((n) => path.join(PLAIN_ROOT, n))];
}

/** Start `node dist/src/cli/main.js ...args`, tagged with `tag`. */
export function startCli(args: string[], tag: string, env: NodeJS.ProcessEnv = {}): CliRun {
  const before = new Set(allRunFolders());
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, [TAG_ENV]: tag }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  // 'exit', not 'close': the device host shares the CLI's stderr, so the pipes may outlive the CLI.
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, pid: child.pid!, tag, args, startedAt: Date.now(), before, exited, stdout: () => out, stderr: () => err };
}

/** Resolve with the exit, or with undefined after `ms` (a hang). */
export async function exitWithin(r: CliRun, ms: number): Promise<Exit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  const e = await Promise.race([r.exited, t]);
  clearTimeout(timer);
  return e;
}

interface Proc {
  pid: number;
  state: string;
  comm: string;
  env: string[];
}

function procs(): Proc[] {
  const out: Proc[] = [];
  for (const n of listDir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const pid = Number(n);
    if (pid === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      out.push({ pid, state, comm, env });
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return out;
}

function envValue(p: Proc, key: string): string | undefined {
  const kv = p.env.find((e) => e.startsWith(`${key}=`));
  return kv?.slice(key.length + 1);
}

/** True if run id `id` was created by child `r` (pid prefix, and not there before it started). */
function ours(r: CliRun, id: string): boolean {
  return id.startsWith(`r${r.pid}-`) && !r.before.has(path.join(RUNTIME_ROOT, id)) && !r.before.has(path.join(PLAIN_ROOT, id));
}

/** Processes of this child's runs: its run marker, its device host marker, or our tag. Zombies do not count. */
export function processesOf(r: CliRun): { pid: number; state: string; comm: string; why: string }[] {
  const out: { pid: number; state: string; comm: string; why: string }[] = [];
  for (const p of procs()) {
    if (p.state === 'Z' || p.pid === r.pid) continue;
    const run = envValue(p, RUN_ENV);
    const host = envValue(p, HOST_ENV);
    const tag = envValue(p, TAG_ENV);
    const why = run && ours(r, run) ? `${RUN_ENV}=${run}` : host && ours(r, host) ? `${HOST_ENV}=${host}` : tag === r.tag ? `${TAG_ENV}=${tag}` : undefined;
    if (why) out.push({ pid: p.pid, state: p.state, comm: p.comm, why });
  }
  return out;
}

/** Run ids child `r` created (folders under /run/tornlab or /var/tmp/tornlab, or markers of live processes). */
export function runIdsOf(r: CliRun): string[] {
  const ids = new Set<string>();
  for (const f of allRunFolders()) if (ours(r, path.basename(f))) ids.add(path.basename(f));
  for (const p of procs()) {
    for (const key of [RUN_ENV, HOST_ENV]) {
      const v = envValue(p, key);
      if (v && ours(r, v)) ids.add(v);
    }
  }
  return [...ids].sort();
}

function underRun(r: CliRun, p: string): boolean {
  for (const root of [RUNTIME_ROOT, PLAIN_ROOT]) {
    const rel = path.relative(root, p);
    if (!rel.startsWith('..') && !path.isAbsolute(rel) && ours(r, rel.split(path.sep)[0])) return true;
  }
  return false;
}

/**
 * Everything of child `r`'s runs still there: mounts (under its run folders,
 * or at `extraMounts`, e.g. exec's --mount DIR), loop devices backed by a file
 * under its run folders (from /sys/block/loop* only), processes (markers or
 * tag) and run folders.
 */
export function leftoversOf(r: CliRun, extraMounts: string[] = []): string[] {
  const out: string[] = [];
  const extra = new Set(extraMounts.map((m) => path.resolve(m)));
  for (const m of currentMounts()) if (underRun(r, m.mountPoint) || extra.has(m.mountPoint)) out.push(`mount ${m.mountPoint} (${m.fsType} from ${m.source})`);
  for (const l of loopDevices()) if (underRun(r, l.backingFile.replace(/ \(deleted\)$/, ''))) out.push(`loop ${l.dev} (backed by ${l.backingFile})`);
  for (const p of processesOf(r)) out.push(`process ${p.pid} ${p.comm} state ${p.state} (${p.why})`);
  for (const f of allRunFolders()) if (ours(r, path.basename(f))) out.push(`folder ${f}`);
  return out;
}

/** Processes of ours (this child's markers or tag) in uninterruptible sleep, with their kernel stacks. */
export function dStateOf(r: CliRun): string[] {
  return processesOf(r)
    .filter((p) => p.state === 'D')
    .map((p) => {
      let stack = '';
      try {
        stack = fs.readFileSync(`/proc/${p.pid}/stack`, 'utf8').split('\n').slice(0, 6).join(' <- ');
      } catch {
        // no stack
      }
      return `${p.comm}[${p.pid}] D (${p.why}) ${stack}`;
    });
}

/** Poll `check` until it returns nothing or `ms` passed; the last answer. */
export async function settle(check: () => string[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = check();
    if (l.length === 0 || Date.now() > deadline) return l;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** What the run is doing right now, for the log line of a kill: its mounts (highest index) and processes. */
export function phaseOf(r: CliRun, extraMounts: string[] = []): string {
  const mounts = currentMounts()
    .filter((m) => underRun(r, m.mountPoint))
    .map((m) => path.basename(m.mountPoint))
    .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]));
  const bound = currentMounts().some((m) => extraMounts.map((x) => path.resolve(x)).includes(m.mountPoint));
  const comms = [...new Set(processesOf(r).map((p) => p.comm))].sort();
  const ids = runIdsOf(r);
  return `${ids.length ? `run ${ids.join(',')}` : 'no run folder yet'}; mounts [${mounts.join(' ')}]${bound ? ' + bind' : ''}; processes [${comms.join(' ')}]`;
}

/** Run `tornlab doctor --cleanup --run ID` (bounded); its exit and output. */
export async function doctorCleanup(runId: string, ms = 90_000): Promise<{ exit: Exit | undefined; out: string }> {
  const d = startCli(['doctor', '--cleanup', '--run', runId], `doctor-${runId}`);
  const exit = await exitWithin(d, ms);
  if (!exit) d.child.kill('SIGKILL');
  return { exit, out: d.stdout() + d.stderr() };
}

/** True if `dir` is a mount point right now. */
export function isMounted(dir: string): boolean {
  const abs = path.resolve(dir);
  return currentMounts().some((m) => m.mountPoint === abs);
}
