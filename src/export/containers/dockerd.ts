/**
 * The container engine tornlab owns: a dockerd (Debian's docker.io) with its
 * own socket, data root, exec root and pidfile, started with sandbox-safe
 * flags (no iptables, no bridge, no IP forwarding or masquerading; containers
 * run with network mode `none`). Nothing here ever talks to, stops or
 * inspects another daemon: every call goes to DOCKER_SOCKET.
 *
 * Invariants:
 * 1. Ours is the daemon whose pid is in PIDFILE and whose command line names
 *    DOCKER_SOCKET; stop() signals that pid only, and only after both match.
 * 2. Testcontainers is pointed at DOCKER_SOCKET (useEngine) before its first
 *    use in the process, with Ryuk off (its image cannot be pulled) and the
 *    host override set (/.dockerenv would make it pull alpine).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, sleep } from '../exec';
import { pidAlive } from '../ledger';

/** Folder of the daemon's socket, pidfile, exec root and log (tmpfs: a reboot forgets a daemon). */
export const DOCKER_RUN_DIR = process.env.TORNLAB_DOCKER_RUN_DIR ?? '/run/tornlab-docker';
export const DOCKER_SOCKET = path.join(DOCKER_RUN_DIR, 'docker.sock');
export const DOCKER_PIDFILE = path.join(DOCKER_RUN_DIR, 'dockerd.pid');
const EXEC_ROOT = path.join(DOCKER_RUN_DIR, 'exec');
const DAEMON_LOG = path.join(DOCKER_RUN_DIR, 'dockerd.log');
/** Images and container layers: on disk, kept across runs (the images are the expensive part). */
export const DOCKER_DATA_ROOT = process.env.TORNLAB_DOCKER_DATA_ROOT ?? '/var/lib/tornlab/docker';
/** Label every tornlab container carries; its value is the run id. */
export const RUN_LABEL = 'tornlab.run';

export function dockerdFlags(): string[] {
  return [
    `--host=unix://${DOCKER_SOCKET}`,
    `--data-root=${DOCKER_DATA_ROOT}`,
    `--exec-root=${EXEC_ROOT}`,
    `--pidfile=${DOCKER_PIDFILE}`,
    '--iptables=false',
    '--ip6tables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--ip=127.0.0.1',
    '--bridge=none',
    '--storage-driver=overlay2',
    '--exec-opt=native.cgroupdriver=cgroupfs',
    '--cgroup-parent=/tornlab',
    '--userland-proxy=false',
    '--log-level=warn',
  ];
}

/** The pid of our daemon if it runs (invariant 1), else undefined. */
export function ourDaemonPid(): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(DOCKER_PIDFILE, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return undefined;
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    return cmd.some((a) => a === `--host=unix://${DOCKER_SOCKET}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function onPath(cmd: string): string | undefined {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    const p = `${d}/${cmd}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * What starting our daemon needs and this machine lacks (docker.io itself is installed by setup),
 * in the shape of preconditions.ts's Missing (not imported: preconditions sits above the teardown that reaches this module).
 */
export function missingForEngine(): { what: string; fix: string }[] {
  const out: { what: string; fix: string }[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) out.push({ what: 'root', fix: 'run as root (dockerd, debootstrap and the FUSE export need it)' });
  if (!fs.existsSync('/sys/fs/cgroup/cgroup.controllers') && !fs.existsSync('/sys/fs/cgroup/memory')) {
    out.push({ what: 'cgroups (/sys/fs/cgroup)', fix: 'mount cgroup2 at /sys/fs/cgroup (containers need cgroups)' });
  }
  if (!onPath('dockerd')) out.push({ what: 'dockerd', fix: 'apt-get install docker.io (tornlab containers setup does it)' });
  return out;
}

async function ping(): Promise<boolean> {
  if (!fs.existsSync(DOCKER_SOCKET)) return false;
  const r = await run(dockerCli(), ['-H', `unix://${DOCKER_SOCKET}`, 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** The docker client binary: Debian's, which matches the daemon. */
export function dockerCli(): string {
  return fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : (onPath('docker') ?? 'docker');
}

/** Run the docker CLI against our daemon only. */
export function docker(args: readonly string[], timeoutMs = 60_000, input?: string) {
  return run(dockerCli(), ['-H', `unix://${DOCKER_SOCKET}`, ...args], { timeoutMs, input });
}

export interface EngineStatus {
  running: boolean;
  pid?: number;
  socket: string;
  dataRoot: string;
  version?: string;
}

export async function engineStatus(): Promise<EngineStatus> {
  const pid = ourDaemonPid();
  const st: EngineStatus = { running: false, pid, socket: DOCKER_SOCKET, dataRoot: DOCKER_DATA_ROOT };
  if (pid === undefined) return st;
  const r = await docker(['version', '--format', '{{.Server.Version}}'], 10_000);
  if (r.code === 0) {
    st.running = true;
    st.version = r.stdout.trim();
  }
  return st;
}

/**
 * Start our daemon unless it already answers; resolves once it does. Its
 * stdout/stderr go to a log file next to the socket (named in errors).
 */
export async function startEngine(timeoutMs = 60_000): Promise<{ pid: number; started: boolean; ms: number }> {
  const t0 = Date.now();
  const running = ourDaemonPid();
  if (running !== undefined && (await ping())) return { pid: running, started: false, ms: Date.now() - t0 };
  const missing = missingForEngine();
  if (missing.length) throw new Error(`cannot start dockerd: ${missing.map((m) => `${m.what} (${m.fix})`).join('; ')}`);
  fs.mkdirSync(DOCKER_RUN_DIR, { recursive: true, mode: 0o711 });
  fs.mkdirSync(DOCKER_DATA_ROOT, { recursive: true, mode: 0o711 });
  // A stale pidfile of a daemon that is gone would make dockerd refuse to start.
  if (running === undefined) fs.rmSync(DOCKER_PIDFILE, { force: true });
  const log = fs.openSync(DAEMON_LOG, 'a');
  const child = spawn(onPath('dockerd')!, dockerdFlags(), { stdio: ['ignore', log, log], detached: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' } });
  fs.closeSync(log);
  child.unref();
  let exited: number | null | undefined;
  child.on('exit', (c) => (exited = c));
  while (Date.now() - t0 < timeoutMs) {
    if (exited !== undefined) throw new Error(`dockerd exited (${exited}) while starting; see ${DAEMON_LOG}:\n${tail(DAEMON_LOG)}`);
    if (await ping()) return { pid: child.pid!, started: true, ms: Date.now() - t0 };
    await sleep(100);
  }
  throw new Error(`dockerd did not answer on ${DOCKER_SOCKET} within ${timeoutMs} ms; see ${DAEMON_LOG}:\n${tail(DAEMON_LOG)}`);
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Stop our daemon (SIGTERM, then SIGKILL), after removing the containers
 * tornlab labelled. Returns false if there was none. Leaves the images.
 */
export async function stopEngine(timeoutMs = 30_000): Promise<boolean> {
  const pid = ourDaemonPid();
  if (pid === undefined) return false;
  const ids = await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}`], 15_000);
  const list = ids.stdout.split('\n').filter(Boolean);
  if (list.length) await docker(['rm', '-f', ...list], 30_000);
  process.kill(pid, 'SIGTERM');
  const t0 = Date.now();
  while (pidAlive(pid) && Date.now() - t0 < timeoutMs) await sleep(100);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  while (pidAlive(pid) && Date.now() - t0 < timeoutMs + 5000) await sleep(100);
  // What a stopped dockerd leaves: the nsfs mount under its exec root.
  for (const m of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = m.split(' ')[4];
    if (mp && mp.startsWith(EXEC_ROOT + '/')) await run('umount', ['-l', mp], { timeoutMs: 10_000 });
  }
  fs.rmSync(DOCKER_SOCKET, { force: true });
  removeCgroups();
  return true;
}

/** The empty cgroup folders our containers left under --cgroup-parent (rmdir only: a busy one stays). */
function removeCgroups(): void {
  const parent = dockerdFlags().find((f) => f.startsWith('--cgroup-parent='))!.split('=')[1].replace(/^\//, '');
  const roots: string[] = [];
  try {
    for (const c of fs.readdirSync('/sys/fs/cgroup')) roots.push(path.join('/sys/fs/cgroup', c, parent));
  } catch {
    return;
  }
  roots.push(path.join('/sys/fs/cgroup', parent));
  const rmTree = (d: string): void => {
    let kids: fs.Dirent[] = [];
    try {
      kids = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const k of kids) if (k.isDirectory()) rmTree(path.join(d, k.name));
    try {
      fs.rmdirSync(d);
    } catch {
      // busy or not ours to remove
    }
  };
  for (const r of roots) rmTree(r);
}

let pointed = false;
/** Point testcontainers (and anything using DOCKER_HOST) at our daemon (invariant 2). */
export function useEngine(): void {
  if (pointed) return;
  process.env.DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE = 'localhost';
  delete process.env.DOCKER_CONTEXT;
  delete process.env.DOCKER_TLS_VERIFY;
  pointed = true;
}
