/**
 * The run ledger: every kernel resource and process a tornlab run creates is
 * recorded in a state file before (or right after) it exists, so that a run
 * killed with SIGKILL can still be cleaned up by `tornlab doctor --cleanup`.
 *
 * Marking (how doctor knows a resource is ours and touches nothing else):
 * - every mount point and backing file lives under RUNTIME_ROOT/<runId>/ or
 *   PLAIN_ROOT/<runId>/ (the prefixes below);
 * - loop devices are ours when their backing file is under one of those;
 * - processes are ours when they are in a cgroup of the run (cgroup.ts), their
 *   environment carries TORNLAB_RUN=<runId> (PostgreSQL's children inherit it)
 *   or their pid is in a ledger;
 * - RUNTIME_ROOT/<runId>/state.json names the owning pid and the resources.
 * Invariants:
 * 1. A resource is added to the ledger before the code that could leak it
 *    returns, and removed only after it has been released.
 * 2. Once close() removed the run's folders the ledger is closed for good:
 *    later add/remove calls (a signal teardown that took the ledger before a
 *    finally block closed it) change nothing on disk and never recreate it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where mount points, sockets and state files of runs live (one folder per run). */
export const RUNTIME_ROOT = process.env.TORNLAB_RUNTIME_DIR ?? '/run/tornlab';
/** Where plain backing files (the local-disk comparison stack) live: on disk, not tmpfs. */
export const PLAIN_ROOT = process.env.TORNLAB_PLAIN_DIR ?? '/var/tmp/tornlab';
/** Environment variable that marks every process a run starts. */
export const RUN_ENV = 'TORNLAB_RUN';
/**
 * Marks a run's device host instead (value: the run id). Apart from RUN_ENV on
 * purpose: code that kills "every process of the run" at a cut must not kill
 * the process that serves the run's FUSE files; doctor finds it by this one.
 */
export const HOST_ENV = 'TORNLAB_DEVICE_HOST';

/**
 * fuse-conn: the kernel FUSE connection id of a fuse-mount (see fuse-conn.ts).
 * mount-dir: a folder the run created outside its roots (exec --mount), removed only while empty.
 * container: an id or name on tornlab's dockerd.
 * cgroup: the run's cgroup folder (cgroup.ts): doctor kills what is in it and removes it.
 */
export type ResourceKind = 'fuse-mount' | 'fuse-conn' | 'mount' | 'loop' | 'process' | 'dir' | 'mount-dir' | 'container' | 'cgroup';

/**
 * Temp folders made without a ledger (plain-directory storage, exec's ack
 * folders when there is no run folder): os.tmpdir()/<prefix><pid>-XXXXXX, so
 * doctor knows them by prefix and finds the owner dead by the pid.
 */
export const TEMP_PREFIXES = ['tornlab-plain-', 'tornlab-exec-acks-'] as const;

/** The temp folder name prefix of this process for `prefix` (one of TEMP_PREFIXES). */
export function tempPrefix(prefix: (typeof TEMP_PREFIXES)[number]): string {
  return `${prefix}${process.pid}-`;
}

export interface ResourceRecord {
  kind: ResourceKind;
  /** Mount point, loop device path, pid (as text), FUSE connection id (as text) or directory. */
  id: string;
  note?: string;
}

export interface RunState {
  runId: string;
  pid: number;
  startedAt: string;
  argv: string[];
  resources: ResourceRecord[];
}

export class RunLedger {
  readonly state: RunState;
  readonly dir: string;
  readonly plainDir: string;
  private counter = 0;
  private closed = false;

  constructor(readonly runId: string) {
    this.dir = path.join(RUNTIME_ROOT, runId);
    this.plainDir = path.join(PLAIN_ROOT, runId);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    // PostgreSQL runs as its own user and must reach its socket and mount folders.
    fs.chmodSync(RUNTIME_ROOT, 0o755);
    fs.chmodSync(this.dir, 0o755);
    this.state = { runId, pid: process.pid, startedAt: new Date().toISOString(), argv: process.argv.slice(1), resources: [] };
    this.save();
  }

  /** A fresh folder name inside the run folder (mount points, sockets). */
  newPath(prefix: string, root: 'runtime' | 'plain' = 'runtime'): string {
    this.counter++;
    return path.join(root === 'runtime' ? this.dir : this.plainDir, `${prefix}-${this.counter}`);
  }

  add(kind: ResourceKind, id: string, note?: string): ResourceRecord {
    if (this.closed) throw new Error(`run ${this.runId}: its ledger is closed; a released run takes no new resources`);
    const r: ResourceRecord = { kind, id, note };
    this.state.resources.push(r);
    this.save();
    return r;
  }

  remove(kind: ResourceKind, id: string): void {
    const i = this.state.resources.findIndex((r) => r.kind === kind && r.id === id);
    if (i >= 0) {
      this.state.resources.splice(i, 1);
      this.save();
    }
  }

  get resources(): readonly ResourceRecord[] {
    return this.state.resources;
  }

  /**
   * Remove the run's folders (sockets, logs, state) once nothing but folders
   * is held. Never recurses into a folder that still holds a mount: a
   * recursive delete would walk into the mounted file system.
   */
  close(): boolean {
    // A process that is gone is released, whoever killed it.
    for (const r of this.state.resources.filter((x) => x.kind === 'process')) if (!pidAlive(Number(r.id))) this.remove('process', r.id);
    if (this.state.resources.some((r) => r.kind !== 'dir')) return false;
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    for (const d of [this.dir, this.plainDir]) {
      if (mounts.includes(` ${d}/`) || mounts.includes(` ${d} `)) return false;
    }
    this.closed = true;
    for (const d of [this.dir, this.plainDir]) fs.rmSync(d, { recursive: true, force: true });
    if (current === this) current = undefined;
    return true;
  }

  /** True once close() removed the run's folders (invariant 2). */
  get isClosed(): boolean {
    return this.closed;
  }

  private save(): void {
    if (this.closed) return;
    // Written to the run folder (never on an exported device), so a synchronous write cannot deadlock.
    const tmp = path.join(this.dir, 'state.json.tmp');
    fs.writeFileSync(tmp, JSON.stringify(this.state, null, 2));
    fs.renameSync(tmp, path.join(this.dir, 'state.json'));
  }
}

let current: RunLedger | undefined;
const createdHooks: (() => void)[] = [];

/** Call `fn` whenever a run's ledger (its folder) is created: teardown.ts installs its signal handlers then. */
export function onLedgerCreated(fn: () => void): void {
  createdHooks.push(fn);
}

/** The ledger of this process's run if one was created. */
export function currentLedger(): RunLedger | undefined {
  return current;
}

/** The ledger of this process's run, created on first use. */
export function runLedger(): RunLedger {
  if (!current || !fs.existsSync(current.dir)) {
    const id = `r${process.pid}-${Date.now().toString(36)}`;
    current = new RunLedger(id);
    for (const h of createdHooks) h();
  }
  return current;
}

/** True if `p` lies under one of the folders tornlab marks as its own. */
export function isOurPath(p: string): boolean {
  const norm = path.resolve(p);
  return [RUNTIME_ROOT, PLAIN_ROOT].some((root) => norm.startsWith(path.resolve(root) + '/'));
}

export function readRunStates(): RunState[] {
  const out: RunState[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(RUNTIME_ROOT);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(RUNTIME_ROOT, n, 'state.json'), 'utf8')) as RunState);
    } catch {
      // a folder without a readable state file: doctor still finds its mounts by prefix
    }
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
