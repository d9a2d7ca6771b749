/**
 * Database containers of a run, through testcontainers against our daemon
 * (dockerd.ts): unprivileged, network mode `none`, host folders bind-mounted
 * at the same paths inside (so paths mean the same on both sides), labelled
 * with the run id and recorded in the run ledger.
 *
 * Invariants:
 * 1. Every container carries RUN_LABEL=<runId> and is in the ledger (kind
 *    `container`) from creation until it is removed.
 * 2. kill() never waits for the daemon: `docker kill` blocks while a FUSE
 *    request of the container is held, so the kill is sent, the container's
 *    host pids are SIGKILLed directly and returned; the removal finishes in
 *    the background (settle() awaits it) once the caller failed the pending
 *    requests.
 */
import * as fs from 'node:fs';
// testcontainers is loaded on first use: it costs about a third of the CLI's start-up time, and most commands never start a container.
import type { StartedTestContainer } from 'testcontainers';
import type { Readable } from 'node:stream';
import { RunLedger } from '../ledger';
import { descendants } from '../processes';
import { CommandResult } from '../exec';
import { RUN_LABEL, docker, useEngine } from './dockerd';

export interface ContainerSpec {
  image: string;
  command: string[];
  user: string;
  /** Host folders bind-mounted read-write at the same path. */
  binds: string[];
  /** Container log (stdout + stderr) is appended here. */
  logFile: string;
  /** Resolve start() once a log line matches (a server); without it the command runs to its end. */
  readyLine?: RegExp;
  startupTimeoutMs: number;
  ledger: RunLedger;
}

const pending = new Set<Promise<unknown>>();

/** Queue a background removal (invariant 2); settle() waits for it. */
export function track(p: Promise<unknown>): void {
  const q = p.catch(() => undefined);
  pending.add(q);
  void q.finally(() => pending.delete(q));
}

/**
 * Wait for background removals of killed containers (invariant 2); with a run
 * id, also remove what still carries its label (a start that passed its
 * deadline before the container was recorded).
 */
export async function settle(runId?: string): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending]);
  if (runId === undefined) return;
  const left = await docker(['ps', '-aq', '--filter', `label=${RUN_LABEL}=${runId}`], 30_000);
  const ids = left.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-f', ...ids], 60_000);
}

export interface StartOutcome {
  ready: boolean;
  ms: number;
  /** Why it did not become ready (the log stream ended: the server exited; or the timeout). */
  error?: string;
}

/** A long-running database server in a container. */
export class ServerContainer {
  private started: StartedTestContainer | undefined;
  /** Host pid of the container's first process. */
  pid: number | undefined;
  id: string | undefined;

  constructor(readonly spec: ContainerSpec) {}

  async start(): Promise<StartOutcome> {
    useEngine();
    const t0 = Date.now();
    const { GenericContainer, Wait } = await import('testcontainers');
    const s = this.spec;
    const log = fs.createWriteStream(s.logFile, { flags: 'a' });
    const gc = new GenericContainer(s.image)
      .withCommand(s.command)
      .withUser(s.user)
      .withNetworkMode('none')
      .withLabels({ [RUN_LABEL]: s.ledger.runId })
      .withBindMounts(s.binds.map((b) => ({ source: b, target: b, mode: 'rw' as const })))
      .withEnvironment({ LANG: 'C', LC_ALL: 'C' })
      .withStartupTimeout(s.startupTimeoutMs)
      .withWaitStrategy(Wait.forLogMessage(s.readyLine ?? /./))
      .withLogConsumer((stream: Readable) => stream.pipe(log));
    try {
      this.started = await gc.start();
    } catch (e) {
      // testcontainers removed the container already; its log went to the log file once the stream ends.
      await new Promise<void>((r) => {
        log.on('finish', () => r());
        setTimeout(r, 3000).unref();
      });
      return { ready: false, ms: Date.now() - t0, error: (e as Error).message };
    }
    this.id = this.started.getId();
    s.ledger.add('container', this.id, s.image);
    const ins = await docker(['inspect', '--format', '{{.State.Pid}}', this.id], 30_000);
    this.pid = Number(ins.stdout.trim()) || undefined;
    return { ready: true, ms: Date.now() - t0 };
  }

  /** Run a command inside (docker exec). */
  async exec(command: string[], user: string, timeoutMs: number): Promise<CommandResult> {
    if (!this.started) throw new Error('container not started');
    const t = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${command.join(' ')} timed out after ${timeoutMs} ms`)), timeoutMs).unref());
    try {
      const r = await Promise.race([this.started.exec(command, { user }), t]);
      return { command: command.join(' '), code: r.exitCode, signal: null, stdout: r.stdout, stderr: r.stderr, timedOut: false };
    } catch (e) {
      return { command: command.join(' '), code: null, signal: null, stdout: '', stderr: String(e), timedOut: true };
    }
  }

  /** Send a signal to the first process and wait for the container to exit; its exit status. */
  async signalAndWait(signal: string, timeoutMs: number): Promise<number | null | undefined> {
    if (!this.id) return undefined;
    await docker(['kill', '--signal', signal, this.id], 30_000);
    const w = await docker(['wait', this.id], timeoutMs);
    if (w.code !== 0) return undefined;
    await this.remove();
    return Number(w.stdout.trim());
  }

  get running(): boolean {
    return this.id !== undefined;
  }

  /** SIGKILL everything in the container now; returns the host pids killed (invariant 2). */
  kill(): number[] {
    if (!this.id) return [];
    const id = this.id;
    const victims = this.pid ? [this.pid, ...descendants(this.pid)] : [];
    for (const p of victims) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    track(
      docker(['rm', '-f', id], 120_000).then((r) => {
        if (r.code === 0 || /No such container/.test(r.stderr)) this.spec.ledger.remove('container', id);
      }),
    );
    this.id = undefined;
    this.started = undefined;
    return victims;
  }

  private async remove(): Promise<void> {
    if (!this.id) return;
    const id = this.id;
    this.id = undefined;
    this.started = undefined;
    await docker(['rm', '-f', id], 60_000);
    this.spec.ledger.remove('container', id);
  }
}

/** Run a command to its end in a fresh container (docker run --rm); its output and exit status. */
export async function runOnce(spec: Omit<ContainerSpec, 'readyLine' | 'startupTimeoutMs' | 'logFile'>, timeoutMs: number): Promise<CommandResult> {
  const name = `tornlab-${spec.ledger.runId}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  spec.ledger.add('container', name, spec.image);
  try {
    const args = ['run', '--rm', '--name', name, '--network', 'none', '--label', `${RUN_LABEL}=${spec.ledger.runId}`, '-u', spec.user, '-e', 'LANG=C', '-e', 'LC_ALL=C'];
    for (const b of spec.binds) args.push('-v', `${b}:${b}`);
    args.push(spec.image, ...spec.command);
    const r = await docker(args, timeoutMs);
    if (r.timedOut) await docker(['rm', '-f', name], 60_000);
    return { ...r, command: spec.command.join(' ') };
  } finally {
    spec.ledger.remove('container', name);
  }
}
let counter = 0;

/** Containers of tornlab runs on our daemon: id, run id, state. */
export async function labelledContainers(): Promise<{ id: string; runId: string; state: string; image: string }[]> {
  const r = await docker(['ps', '-a', '--filter', `label=${RUN_LABEL}`, '--format', `{{.ID}}\t{{.Label "${RUN_LABEL}"}}\t{{.State}}\t{{.Image}}`], 30_000);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, runId, state, image] = l.split('\t');
      return { id, runId, state, image };
    });
}
