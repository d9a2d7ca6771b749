/**
 * The device host: a small process of its own that owns every emulated
 * device a run exports, and the FUSE servers that expose them to the kernel.
 *
 * Threading model (issue 9; ARCHITECTURE 6):
 *   orchestrator process (CLI / jest)      device host process (this file)
 *   - starts databases, mkfs, mount,       - NvmeDevice objects, their crash
 *     umount, losetup; may block in the      points and images
 *     kernel (lazy-umount last fd, a       - FUSE request handlers (fuse-native)
 *     sync fs call, spawnSync)             - answers control requests over IPC
 *   - holds only ids (client.ts)
 *
 * Invariants:
 *  1. Nothing in this process blocks its event loop on the kernel: no
 *     synchronous child process, no synchronous fs call on a path below a
 *     mount of ours, no wait for the orchestrator. Every FUSE request is
 *     answered from memory (or held after a cut, then failed on request).
 *  2. The orchestrator never serves FUSE: whatever blocks it, a FUSE request
 *     is still answered here — so no kernel wait it causes can wait on itself.
 *  3. This process holds the only /dev/fuse descriptors of the run; children
 *     it spawns (umount) get none (exec.ts noFuseFds). When it dies, the
 *     kernel aborts its connections and every waiting request fails.
 *  4. When the IPC channel closes (the orchestrator died or is exiting),
 *     held requests are failed and the process exits at once (3 then frees
 *     the kernel side; `tornlab doctor --cleanup` releases mounts and loops).
 *  5. A request is answered exactly once; a response carries its request id.
 */
import { CrashPoint, NvmeDevice, createDevice } from '../../device/device';
import { Choice, buildCrashImage, choiceAt, choiceSpace, powerOn, sampleChoice, tearWrite } from '../../device/power-loss';
import { parseFaults } from '../../device/profiles';
import { BlockStore } from '../../device/store';
import { isUserError } from '../../util/errors';
import { Prng } from '../../util/prng';
import { FuseFile } from '../fuse-file';
import { CutInfo, DeviceInfo, FromHost, Request, Responses, SurvivorSpec, ToHost } from './protocol';

interface Held {
  device: NvmeDevice;
  profile: string;
  fuse?: FuseFile;
  point?: CrashPoint;
}

const devices = new Map<number, Held>();
const images = new Map<number, BlockStore>();
let nextId = 1;

function send(msg: FromHost): void {
  // The channel can close between the check and the write (the orchestrator exited or was
  // killed): without a callback, that EPIPE is an unhandled 'error' event and crashes the host.
  if (process.connected) process.send!(msg, undefined, undefined, () => undefined);
}

function held(dev: number): Held {
  const h = devices.get(dev);
  if (!h) throw new Error(`device host: no device ${dev}`);
  return h;
}

function info(dev: number, h: Held): DeviceInfo {
  return { dev, profile: h.profile, seed: h.device.seed, blockSize: h.device.blockSize, nsze: h.device.nsze };
}

function cutInfo(p: CrashPoint, trigger?: { lba: number; nlb: number }): CutInfo {
  return {
    seq: p.seq,
    seed: p.seed,
    timeUs: p.timeUs,
    pendingWrites: p.pending.length,
    pendingBlocks: p.pending.reduce((a, w) => a + w.lbas.length, 0),
    pendingLbas: p.pending.map((w) => `${w.lba}+${w.nlb}`),
    ...(trigger ? { trigger } : {}),
  };
}

function fuseOf(h: Held): FuseFile {
  if (!h.fuse) throw new Error('device host: the device is not exported');
  return h.fuse;
}

/** The crash image a survivor choice gives at a crash point. */
function crashState(point: CrashPoint, s: SurvivorSpec) {
  const space = choiceSpace(point);
  let choice: Choice;
  if ('seed' in s) {
    choice = sampleChoice(space, new Prng(s.seed, s.label));
    if (s.tear) choice = tearWrite(space, choice, s.tear);
  }
  else if ('choice' in s) choice = s.choice;
  else choice = choiceAt(space, BigInt(s.index));
  return { space, choice, image: buildCrashImage(space, choice) };
}

async function handle(req: Request): Promise<Responses[Request['op']]> {
  switch (req.op) {
    case 'ping':
      return { pid: process.pid };
    case 'create': {
      const s = req.spec;
      let image: { store: BlockStore } | undefined;
      if (s.image !== undefined) {
        const store = images.get(s.image);
        if (!store) throw new Error(`device host: no image ${s.image}`);
        image = { store };
      }
      const device = createDevice({ profile: s.profile, faults: parseFaults(s.faults ?? []), seed: s.seed, nsze: s.nsze, image });
      const id = nextId++;
      const h: Held = { device, profile: device.profile.name };
      devices.set(id, h);
      return info(id, h);
    }
    case 'counters':
      return { ...held(req.dev).device.counters };
    case 'snapshot': {
      // Everything completed reaches media first: the image is what a clean shutdown leaves.
      const d = held(req.dev).device;
      d.waitAll();
      d.flush();
      const id = nextId++;
      images.set(id, d.media.snapshot());
      return { image: id, blocks: d.media.size };
    }
    case 'drop-image':
      images.delete(req.image);
      return null;
    case 'drop': {
      const h = devices.get(req.dev);
      if (h?.fuse) await h.fuse.unmount();
      devices.delete(req.dev);
      return null;
    }
    case 'mount': {
      const h = held(req.dev);
      if (h.fuse) throw new Error('device host: the device is already exported');
      h.fuse = await FuseFile.mount(h.device, req.mountPoint, { tag: req.tag });
      h.fuse.onCut((p) => {
        h.point = p;
        send({ kind: 'cut', dev: req.dev, cut: cutInfo(p, h.fuse?.triggerWrite) });
      });
      return { filePath: h.fuse.filePath };
    }
    case 'cut': {
      const h = held(req.dev);
      h.point = h.fuse ? h.fuse.cut() : (h.point ?? h.device.powerCut());
      return cutInfo(h.point, h.fuse?.triggerWrite);
    }
    case 'arm':
      void fuseOf(held(req.dev)).armCut(req.trigger);
      return null;
    case 'disarm':
      held(req.dev).fuse?.disarm();
      return null;
    case 'fail-pending':
      held(req.dev).fuse?.failPending();
      return null;
    case 'stats': {
      const f = fuseOf(held(req.dev));
      return { ...f.stats, writeSizes: { ...f.stats.writeSizes }, heldCount: f.heldCount, gate: f.state };
    }
    case 'reset-max-dirty':
      fuseOf(held(req.dev)).stats.maxDirtyBytes = 0;
      return null;
    case 'trace': {
      const f = fuseOf(held(req.dev));
      if (req.action === 'start') {
        f.startTrace();
        return null;
      }
      return f.takeTrace() ?? null;
    }
    case 'unmount': {
      const h = held(req.dev);
      if (h.fuse) await h.fuse.unmount();
      h.fuse = undefined;
      return null;
    }
    case 'power-on-crash-image': {
      const h = held(req.dev);
      if (!h.point) throw new Error('device host: power-on-crash-image before a cut');
      const st = crashState(h.point, req.survivors);
      const device = powerOn(h.point, st.image);
      const id = nextId++;
      const nh: Held = { device, profile: device.profile.name };
      devices.set(id, nh);
      return { device: info(id, nh), choices: st.space.count.toString(), choice: st.choice, changedBlocks: st.image.changedBlocks };
    }
    case 'write':
      held(req.dev).device.write(req.lba, req.data);
      return null;
    case 'read':
      return held(req.dev).device.read(req.lba, req.nlb);
    case 'hang':
      fuseOf(held(req.dev)).hang();
      return null;
  }
}

function failEverything(): void {
  for (const h of devices.values()) {
    try {
      h.fuse?.failPending();
    } catch {
      // exiting anyway
    }
  }
}

export function serve(): void {
  if (!process.send) throw new Error('the device host must be started with an IPC channel (client.ts)');
  // The orchestrator decides about teardown; a terminal's Ctrl-C or a stray SIGTERM for the
  // orchestrator's group must not take the FUSE servers away under its release steps.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  process.on('message', (m: ToHost) => {
    if (m?.kind !== 'request') return;
    handle(m.req).then(
      (value) => send({ kind: 'response', id: m.id, ok: true, value }),
      (e: Error) => send({ kind: 'response', id: m.id, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(e), badInput: isUserError(e) } }),
    );
  });
  process.on('disconnect', () => {
    failEverything();
    process.exit(0);
  });
}
