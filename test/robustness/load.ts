/**
 * Machine load for the robustness tests and `npm run stress`: busy-loop CPU
 * hogs (default two per core) and a direct-I/O disk writer (dd oflag=direct,
 * in a loop, to a file on local disk that is removed when the load stops).
 *
 * Every hog is its own process group (detached), so stop() can SIGKILL each
 * group by its own pid — only processes this module started are signalled —
 * and each stops by itself once the process that started it is gone.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface Load {
  hogs: number[];
  writer: number | undefined;
  file: string;
  /** Pids of load processes still running (their group leaders). */
  alive(): number[];
  stop(): void;
}

export interface LoadOptions {
  /** CPU hogs (default os.cpus().length * 2). */
  hogs?: number;
  /** MiB per dd pass of the writer (default 256); 0: no writer. */
  writerMib?: number;
  /** Where the writer writes (default /var/tmp/tornlab-load-<pid>): local disk, not tmpfs. */
  file?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function startLoad(o: LoadOptions = {}): Load {
  const n = o.hogs ?? os.cpus().length * 2;
  const file = o.file ?? `/var/tmp/tornlab-load-${process.pid}`;
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    children.push(spawn('sh', ['-c', 'while kill -0 "$1" 2>/dev/null; do :; done', 'tornlab-load-hog', String(process.pid)], { stdio: 'ignore', detached: true }));
  }
  const mib = o.writerMib ?? 256;
  let writer: ChildProcess | undefined;
  if (mib > 0) {
    writer = spawn('sh', ['-c', `while kill -0 "$2" 2>/dev/null; do dd if=/dev/zero of="$1" bs=1M count=${mib} oflag=direct status=none || sleep 1; done; rm -f "$1"`, 'tornlab-load-writer', file, String(process.pid)], { stdio: 'ignore', detached: true });
    children.push(writer);
  }
  const pids = children.map((c) => c.pid!).filter((p) => p !== undefined);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL'); // the group: the shell and its dd
      } catch {
        // gone
      }
    }
    try {
      fs.rmSync(file, { force: true });
    } catch {
      // removed already
    }
  };
  // Whatever ends this process, the load goes with it: each load process checks that this one is
  // alive and stops by itself (jest's test process never emits 'exit', and a SIGKILL runs nothing).
  return {
    hogs: pids.slice(0, n),
    writer: writer?.pid,
    file,
    alive: () => pids.filter(alive),
    stop: () => {
      stop();
      // dd may still be finishing its last direct write when the group is killed.
      setTimeout(() => fs.rmSync(file, { force: true }), 500).unref();
    },
  };
}
