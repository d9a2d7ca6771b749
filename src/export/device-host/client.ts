/**
 * The orchestrator's side of the device host (see host.ts for the threading
 * model): handles for devices, images and FUSE exports that live in the host
 * process, and the IPC that drives them.
 *
 * Invariants:
 *  1. This process never serves a FUSE request (host.ts invariant 2): every
 *     device it exports is created here as a `HostedDevice`, in the host.
 *  2. Every request gets exactly one settlement: its response, or a
 *     `DeviceHostGone` rejection when the host process ends first.
 *  3. The IPC channel keeps this process alive only while a request or an
 *     armed cut is outstanding, so a CLI run ends when its work is done.
 *  4. The host carries the device-host marker, never the run marker: code that
 *     kills every process of the run at a cut leaves it alone; doctor finds it
 *     by its own marker after a SIGKILL.
 */
import { ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DeviceCounters, Tag } from '../../device/types';
import { BadInputError } from '../../util/errors';
import { run } from '../exec';
import { HOST_ENV, RUN_ENV, runLedger } from '../ledger';
import { CutInfo, CutTriggerSpec, DeviceInfo, DeviceSpec, ExportStats, FromHost, Request, Responses, SurvivorSpec, ToHost, WriteTrace } from './protocol';

export type { CutInfo, CutTriggerSpec, DeviceSpec, ExportStats, SurvivorSpec, WriteTrace } from './protocol';

/** The host runs compiled JS: next to this file from dist/, else (ts-jest runs the sources) from dist/. */
const HOST_JS = fs.existsSync(path.join(__dirname, 'host-main.js')) ? path.join(__dirname, 'host-main.js') : path.resolve(__dirname, '../../../dist/src/export/device-host/host-main.js');

export class DeviceHostGone extends Error {
  constructor(detail: string) {
    super(`the device host process ended (${detail}); its devices and exports are gone`);
    this.name = 'DeviceHostGone';
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

class DeviceHostProcess {
  readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private readonly cutListeners = new Map<number, ((c: CutInfo) => void)[]>();
  private nextId = 1;
  private holds = 0;
  gone: DeviceHostGone | undefined;
  /** The run this host serves (its marker); a new run gets a new host. */
  readonly runId: string;

  constructor() {
    if (!fs.existsSync(HOST_JS)) throw new Error(`device host entry ${HOST_JS} is missing: run \`npm run build\` first`);
    const runId = (this.runId = runLedger().runId);
    this.child = fork(HOST_JS, [], {
      serialization: 'advanced',
      // stdout stays clean for the CLI's own output (JSON on stdout); the host only ever writes to stderr.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      // Its own process group: a terminal's Ctrl-C reaches the orchestrator, which tears down in order.
      detached: true,
      // Marked as the run's device host, not as a process of the run (ledger.ts HOST_ENV).
      env: { ...withoutRunMark(process.env), [HOST_ENV]: runId },
      execArgv: [],
    });
    this.child.on('message', (m: FromHost) => this.onMessage(m));
    this.child.on('exit', (code, signal) => this.onGone(signal ? `signal ${signal}` : `exit ${code}`));
    this.child.on('error', (e) => this.onGone(e.message));
    this.updateRef();
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<K extends Request['op']>(req: Extract<Request, { op: K }>): Promise<Responses[K]> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    const msg: ToHost = { kind: 'request', id, req };
    return new Promise<Responses[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.hold(+1);
      try {
        this.child.send(msg);
      } catch (e) {
        this.pending.delete(id);
        this.hold(-1);
        reject(e as Error);
      }
    });
  }

  onCut(dev: number, l: (c: CutInfo) => void): void {
    let ls = this.cutListeners.get(dev);
    if (!ls) this.cutListeners.set(dev, (ls = []));
    ls.push(l);
  }

  forget(dev: number): void {
    this.cutListeners.delete(dev);
  }

  /** Keep the IPC channel referenced while something awaits the host (invariant 3). */
  hold(delta: number): void {
    this.holds += delta;
    this.updateRef();
  }

  private updateRef(): void {
    const ch = (this.child as unknown as { channel?: { ref(): void; unref(): void } }).channel;
    if (this.holds > 0) {
      this.child.ref();
      ch?.ref();
    } else {
      this.child.unref();
      ch?.unref();
    }
  }

  private onMessage(m: FromHost): void {
    if (m.kind === 'cut') {
      for (const l of this.cutListeners.get(m.dev) ?? []) l(m.cut);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.hold(-1);
    if (m.ok) p.resolve(m.value);
    else {
      const e = m.error.badInput ? new BadInputError(m.error.message) : new Error(m.error.message);
      if (!m.error.badInput) e.name = m.error.name;
      p.reject(e);
    }
  }

  private onGone(detail: string): void {
    if (this.gone) return;
    this.gone = new DeviceHostGone(detail);
    for (const p of this.pending.values()) p.reject(this.gone);
    this.pending.clear();
    this.holds = 0;
    this.updateRef();
    if (host === this) host = undefined;
  }

  /** Let the host end once its outstanding requests are answered (it exits when the channel closes). */
  retire(): void {
    if (!this.gone && this.child.connected) this.child.disconnect();
  }
}

let host: DeviceHostProcess | undefined;

function withoutRunMark(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  delete out[RUN_ENV];
  return out;
}

function deviceHost(): DeviceHostProcess {
  const runId = runLedger().runId;
  if (host && !host.gone && host.runId !== runId) {
    // The run this host was marked for has closed (its ledger is gone): doctor would take the
    // host for a leftover of a dead run. Its devices went with that run.
    host.retire();
    host = undefined;
  }
  if (!host || host.gone) host = new DeviceHostProcess();
  return host;
}

/** Pid of this process's device host, if one runs (teardown must not kill it before releasing). */
export function deviceHostPid(): number | undefined {
  return host && !host.gone ? host.pid : undefined;
}

/** End the device host (tests; the CLI just exits and the host follows, host.ts invariant 4). */
export async function stopDeviceHost(): Promise<void> {
  const h = host;
  if (!h || h.gone) return;
  const gone = new Promise<void>((r) => h.child.once('exit', () => r()));
  h.child.disconnect();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 5000)))]);
  clearTimeout(timer);
  if (!h.gone) h.child.kill('SIGKILL');
}

const finalizer = new FinalizationRegistry<{ h: DeviceHostProcess; dev: number }>(({ h, dev }) => {
  if (!h.gone) void h.request({ op: 'drop', dev }).catch(() => undefined);
});

/** An emulated device that lives in the device host. */
export class HostedDevice {
  private dropped = false;

  private constructor(
    private readonly h: DeviceHostProcess,
    readonly info: DeviceInfo,
  ) {
    finalizer.register(this, { h, dev: info.dev }, this);
  }

  /** Create a device in the host. */
  static async create(spec: DeviceSpec): Promise<HostedDevice> {
    const h = deviceHost();
    return new HostedDevice(h, await h.request({ op: 'create', spec }));
  }

  get id(): number {
    return this.info.dev;
  }
  get profile(): string {
    return this.info.profile;
  }
  get seed(): number {
    return this.info.seed;
  }
  get blockSize(): number {
    return this.info.blockSize;
  }
  get nsze(): number {
    return this.info.nsze;
  }
  get hostPid(): number {
    return this.h.pid;
  }

  counters(): Promise<DeviceCounters> {
    return this.h.request({ op: 'counters', dev: this.id });
  }

  /** Write `data` at `lba` and wait for its completion (tests, tools; the kernel writes through FUSE). */
  async write(lba: number, data: Uint8Array): Promise<void> {
    await this.h.request({ op: 'write', dev: this.id, lba, data });
  }

  read(lba: number, nlb: number): Promise<Uint8Array> {
    return this.h.request({ op: 'read', dev: this.id, lba, nlb });
  }

  /** Complete everything, Flush, and keep the media as an image in the host (a base image). */
  async snapshot(): Promise<HostImage> {
    const r = await this.h.request({ op: 'snapshot', dev: this.id });
    return new HostImage(this.h, r.image, r.blocks);
  }

  /** Export as a FUSE file in `mountPoint` (created if missing). */
  async export(mountPoint: string, tag: Tag): Promise<HostedExport> {
    const r = await this.h.request({ op: 'mount', dev: this.id, mountPoint, tag });
    return new HostedExport(this.h, this, mountPoint, r.filePath);
  }

  /**
   * Power on a new device from a crash image of this (cut) device: the
   * survivor choice is drawn in the host, where the crash point lives.
   */
  async powerOnCrashImage(survivors: SurvivorSpec): Promise<{ device: HostedDevice; choices: bigint; choice: number[]; changedBlocks: number }> {
    const r = await this.h.request({ op: 'power-on-crash-image', dev: this.id, survivors });
    return { device: new HostedDevice(this.h, r.device), choices: BigInt(r.choices), choice: r.choice, changedBlocks: r.changedBlocks };
  }

  /** Free the device (and its crash point) in the host. Idempotent. */
  async dispose(): Promise<void> {
    if (this.dropped) return;
    this.dropped = true;
    finalizer.unregister(this);
    this.h.forget(this.id);
    if (!this.h.gone) await this.h.request({ op: 'drop', dev: this.id }).catch(() => undefined);
  }
}

/** A block image held by the host (e.g. a PostgreSQL base image); devices power on from it by id. */
export class HostImage {
  constructor(
    private readonly h: DeviceHostProcess,
    readonly id: number,
    readonly blocks: number,
  ) {}

  /** Still usable (the host that holds it is alive). */
  get alive(): boolean {
    return !this.h.gone && host === this.h;
  }

  async dispose(): Promise<void> {
    if (!this.h.gone) await this.h.request({ op: 'drop-image', image: this.id }).catch(() => undefined);
  }
}

/** One device exported through FUSE by the host; the cut and its triggers live there. */
export class HostedExport {
  private cutInfo: CutInfo | undefined;
  private readonly listeners: ((c: CutInfo) => void)[] = [];
  private armed = false;

  constructor(
    private readonly h: DeviceHostProcess,
    readonly device: HostedDevice,
    readonly mountPoint: string,
    readonly filePath: string,
  ) {
    h.onCut(device.id, (c) => this.noteCut(c));
  }

  /** True once the host reported the cut (a cut in flight may not be seen yet). */
  get isCut(): boolean {
    return this.cutInfo !== undefined;
  }

  get point(): CutInfo | undefined {
    return this.cutInfo;
  }

  onCut(l: (c: CutInfo) => void): void {
    if (this.cutInfo) l(this.cutInfo);
    else this.listeners.push(l);
  }

  /** Cut the power now (idempotent: a cut already made is returned). */
  async cut(): Promise<CutInfo> {
    const c = await this.h.request({ op: 'cut', dev: this.device.id });
    this.noteCut(c);
    return c;
  }

  /** Arm a cut in the middle of the write stream; resolves at the cut. */
  armCut(trigger: CutTriggerSpec): Promise<CutInfo> {
    if (this.cutInfo) return Promise.resolve(this.cutInfo);
    const atCut = new Promise<CutInfo>((resolve) => this.onCut(resolve));
    if (!this.armed) {
      this.armed = true;
      this.h.hold(+1);
    }
    void this.h.request({ op: 'arm', dev: this.device.id, trigger }).catch(() => undefined);
    return atCut;
  }

  disarm(): void {
    this.unhold();
    void this.h.request({ op: 'disarm', dev: this.device.id }).catch(() => undefined);
  }

  /** Answer every held and later request with EIO (after the issuers were killed). */
  async failPending(): Promise<void> {
    await this.h.request({ op: 'fail-pending', dev: this.device.id }).catch((e) => {
      // A host that is gone answers nothing any more: the kernel already failed its requests.
      if (!(e instanceof DeviceHostGone)) throw e;
    });
  }

  stats(): Promise<ExportStats> {
    return this.h.request({ op: 'stats', dev: this.device.id });
  }

  async resetMaxDirty(): Promise<void> {
    await this.h.request({ op: 'reset-max-dirty', dev: this.device.id });
  }

  /** Start tracing the write requests the export serves (src/export/write-shape.ts reads the trace). */
  async startTrace(): Promise<void> {
    await this.h.request({ op: 'trace', dev: this.device.id, action: 'start' });
  }

  /** The write trace since startTrace or the last take (undefined if not tracing); tracing goes on. */
  async takeTrace(): Promise<(WriteTrace & { truncated: boolean }) | undefined> {
    return (await this.h.request({ op: 'trace', dev: this.device.id, action: 'take' })) ?? undefined;
  }

  /** Unmount the FUSE file system in the host (lazily if the loop device still holds it). */
  async unmount(): Promise<void> {
    this.unhold();
    try {
      await this.h.request({ op: 'unmount', dev: this.device.id });
    } catch (e) {
      if (!(e instanceof DeviceHostGone)) throw e;
      // The host died with its FUSE file system still mounted. With no server left the kernel
      // has aborted the connection, so a lazy unmount from here cannot wait on anything.
      await run('umount', ['-l', this.mountPoint], { timeoutMs: 15_000 });
    }
  }

  /** Test hook: the FUSE handler stops answering (no cut); the watchdog must notice. */
  async hang(): Promise<void> {
    await this.h.request({ op: 'hang', dev: this.device.id });
  }

  private noteCut(c: CutInfo): void {
    if (this.cutInfo) return;
    this.cutInfo = c;
    this.unhold();
    const ls = this.listeners.splice(0);
    for (const l of ls) l(c);
  }

  private unhold(): void {
    if (this.armed) {
      this.armed = false;
      this.h.hold(-1);
    }
  }
}
