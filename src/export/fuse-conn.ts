/**
 * FUSE connections and file descriptors.
 *
 * libfuse2 opens /dev/fuse without O_CLOEXEC, so every child this process
 * spawns after a mount inherits the descriptor. While any process holds it,
 * the kernel keeps the connection alive even after the daemon (this process)
 * died — and a child stuck in I/O on the exported device then waits forever
 * (seen on this machine: a SIGKILLed run left PostgreSQL in D state holding
 * /dev/fuse). Two defences:
 * - `noFuseFds()` gives spawn a stdio array that replaces those descriptors
 *   in the child (with pipe ends), so killing the daemon aborts the connection;
 * - `abortConnections()` (fusectl.ts) aborts a dead run's connection through a
 *   private fusectl mount (the connection id is recorded in the run ledger),
 *   which fails every waiting request so stuck processes can die.
 */
import * as fs from 'node:fs';

/** The FUSE connection id (device minor) of the mount at `mountPoint`, from mountinfo. */
export function fuseConnectionOf(mountPoint: string): number | undefined {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4] === mountPoint && /^0:\d+$/.test(f[2] ?? '')) return Number(f[2].split(':')[1]);
  }
  return undefined;
}

/** Device numbers "0:N" of every mount in this namespace, with their mount points. */
export function anonDeviceMounts(): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (/^0:\d+$/.test(f[2] ?? '')) out.set(Number(f[2].split(':')[1]), f[4]);
  }
  return out;
}

/** Descriptors of this process that are open on /dev/fuse. */
export function fuseFdsOfThisProcess(): number[] {
  const out: number[] = [];
  for (const n of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${n}`) === '/dev/fuse') out.push(Number(n));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

export type StdioEntry = 'pipe' | 'ignore' | 'inherit' | number;

/**
 * A spawn stdio array: `base` for 0..2, and a pipe at every descriptor number
 * this process has open on /dev/fuse, so the child does not inherit it.
 * Destroy the parent ends of those pipes after spawning (`closeExtraPipes`).
 */
export function noFuseFds(base: StdioEntry[]): StdioEntry[] {
  const fds = fuseFdsOfThisProcess();
  if (fds.length === 0) return base;
  const out = [...base];
  const max = Math.max(...fds);
  for (let i = out.length; i <= max; i++) out.push(fds.includes(i) ? 'pipe' : 'ignore');
  return out;
}

export function closeExtraPipes(child: { stdio: ReadonlyArray<unknown> }): void {
  for (let i = 3; i < child.stdio.length; i++) {
    const s = child.stdio[i] as { destroy?: () => void } | null;
    s?.destroy?.();
  }
}
