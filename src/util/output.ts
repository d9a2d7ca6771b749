/**
 * Output that is complete before the process ends, at any size.
 *
 * Invariants:
 *  1. Nothing a command wrote to stdout or stderr is lost by exiting: on a
 *     pipe, Node writes what the pipe takes at once and queues the rest in
 *     libuv; `process.exit()` drops that queue (a `--json` result cut at
 *     64 KiB when the reader is slow). `exitWhenFlushed` sets the exit status,
 *     waits until both streams have handed every queued byte to the OS, and
 *     only then lets the process end.
 *  2. The process still ends promptly: once flushed it ends by itself when
 *     nothing else is pending, and at the latest after a short grace period
 *     (a handle left open elsewhere must not keep a finished CLI alive).
 *  3. A reader that goes away (EPIPE: `tornlab run --json | head`) ends the
 *     wait instead of raising an uncaught error; the exit status stays the
 *     run's own.
 *  4. A file written with `writeFileAtomic` is either absent, its old
 *     content, or complete: it is written under a temporary name in the same
 *     directory, fsynced, and renamed over the target, so a run killed half
 *     way never leaves a half-written report or JUnit file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type Out = NodeJS.WritableStream & { writableLength?: number; destroyed?: boolean; writableEnded?: boolean };

/** Resolves once `stream` has handed everything written to it to the OS (or cannot any more). */
export function flushed(stream: Out): Promise<void> {
  if (stream.destroyed || stream.writableEnded || !stream.writable) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.removeListener('error', done);
      stream.removeListener('close', done);
      resolve();
    };
    stream.once('error', done);
    stream.once('close', done);
    // Write callbacks run in order: this one runs once every earlier chunk is written.
    try {
      stream.write('', () => done());
    } catch {
      done();
    }
  });
}

/** Swallow EPIPE on the standard streams (the reader left); anything else is rethrown as before. */
export function tolerateClosedReader(...streams: Out[]): void {
  for (const s of streams) {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
}

/** How long a flushed process may take to end by itself before it is made to (invariant 2). */
export const EXIT_GRACE_MS = 2000;

/**
 * End the process with `code` once stdout and stderr are flushed (invariant 1).
 * Sets process.exitCode first, so the status is right however the process ends.
 */
export async function exitWhenFlushed(code: number, streams: Out[] = [process.stdout, process.stderr], graceMs = EXIT_GRACE_MS): Promise<void> {
  process.exitCode = code;
  await Promise.all(streams.map(flushed));
  // Flushed: ending now loses nothing. Let the event loop run dry by itself; if a
  // handle keeps it alive, end anyway after the grace period (unref: the timer alone
  // does not keep the process alive). graceMs 0: end right away (a fatal error).
  if (graceMs <= 0) process.exit(code);
  setTimeout(() => process.exit(code), graceMs).unref();
}

/** Write `text` to `file` so that it is never seen half-written (invariant 4). */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writeAtomically(file, (fd) => {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
  });
}

let tmpCounter = 0;

/**
 * Write `file` through `fill(fd)` on a temporary name in the same folder,
 * renamed into place once complete (invariant 4); the temporary file goes
 * on any error. `fsync: false` skips the fsync (a large scratch image).
 */
export function writeAtomically(file: string, fill: (fd: number) => void, opts: { fsync?: boolean } = {}): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tmpCounter}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    fill(fd);
    if (opts.fsync ?? true) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
