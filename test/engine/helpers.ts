/** Shared helpers for the minipage engine tests. */
import { createDevice, NvmeDevice } from '../../src/device/device';
import { deviceBlocksFor, EngineConfig } from '../../engines/minipage';
import { getProfile } from '../../src/device/profiles';

export function smallDevice(profile = 'consumer-tlc', engine: Partial<EngineConfig> = {}, seed = 1): NvmeDevice {
  const bs = getProfile(profile).identify.namespace.lbaDataSize;
  const nsze = deviceBlocksFor({ mode: 'none', pageSize: 16384, ...engine }, bs);
  return createDevice({ profile, seed, nsze });
}

export function countVerdicts(rs: { verdict: string }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of rs) c[r.verdict] = (c[r.verdict] ?? 0) + 1;
  return c;
}

import { CapturedPoint, RunResult } from '../../engines/minipage';
import { checkPageImage } from '../../engines/minipage/page';
import { pageLba, readRange } from '../../engines/minipage/protections';

/** Pages whose checksum fails on a device BEFORE recovery (what a torn write left). */
export function tornPagesOnMedia(dev: NvmeDevice, run: RunResult): number[] {
  const layout = run.engine.layout;
  const count = run.engine.getPage(0).pageCount;
  run.engine.unpinAll();
  const imgs = readRange(dev, pageLba(layout, 0), count, layout.pageBlocks);
  const out: number[] = [];
  imgs.forEach((img, no) => {
    const c = img ? checkPageImage(img, no) : 'unreadable';
    if (c !== 'ok' && c !== 'zero') out.push(no);
  });
  return out;
}

/** Every k-th point, plus every point inside a checkpoint. */
export function pickPoints(points: CapturedPoint[], every: number): CapturedPoint[] {
  return points.filter((p, i) => p.phase === 'checkpoint' || i % every === 0);
}
