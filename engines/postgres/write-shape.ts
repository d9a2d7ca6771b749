/**
 * The write shape of a PostgreSQL cycle (issue 13 item 2): which relation
 * pages (8 KiB) reached the device as one command, split or merged, and
 * which the profile's power-fail atomicity did not cover, in the load and in
 * the CHECKPOINT's writeback. src/export/write-shape.ts does the analysis;
 * this module only names PostgreSQL's files.
 *
 * Invariant: only non-empty files are mapped (filefrag on every empty
 * relation file of a fresh cluster would cost more than the cycle).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getProfile } from '../../src/device/profiles';
import { powerFailAtomicity } from '../../src/device/identify';
import type { WriteTrace } from '../../src/export/fuse-file';
import { FileExtent, PageLayout, TracedFile, WriteShape, analyzeWriteShape, fileMap, pageLayout } from '../../src/export/write-shape';

/** PostgreSQL's block size (BLCKSZ of Debian's build). */
export const PG_PAGE_BYTES = 8192;

/** Relation files (paged, 8 KiB: main, fsm and vm forks and their segments) and WAL segments (unpaged), relative to `mountPoint`. */
export function pgTracedFiles(mountPoint: string, dataDir: string): TracedFile[] {
  const rel = path.relative(mountPoint, dataDir);
  const out: TracedFile[] = [];
  const walk = (dir: string, paged: boolean) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dataDir, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (paged) walk(r, paged);
        continue;
      }
      if (!e.isFile() || fs.statSync(path.join(dataDir, r)).size === 0) continue;
      if (paged && /^\d+(_(fsm|vm|init))?(\.\d+)?$/.test(e.name)) out.push({ file: `${rel}/${r}`, pageSize: PG_PAGE_BYTES });
      else if (!paged && /^[0-9A-F]{24}$/.test(e.name)) out.push({ file: `${rel}/${r}` });
    }
  };
  walk('base', true);
  walk('global', true);
  walk('pg_wal', false);
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

export interface PgShapeContext {
  extents: FileExtent[];
  files: TracedFile[];
  load: WriteShape;
}

export interface PgWriteShape {
  load?: WriteShape;
  checkpoint?: WriteShape;
  layout?: PageLayout;
}

function ruleOf(profileName: string) {
  const p = getProfile(profileName);
  return { rule: powerFailAtomicity(p.identify), blockSize: p.identify.namespace.lbaDataSize };
}

/** The load's shape and the file map the checkpoint's writes are read against (file I/O: filefrag). */
export async function loadShape(profile: string, trace: WriteTrace, mountPoint: string, dataDir: string): Promise<PgShapeContext> {
  const files = pgTracedFiles(mountPoint, dataDir);
  const extents = await fileMap(mountPoint, files.map((f) => f.file));
  const { rule, blockSize } = ruleOf(profile);
  return { extents, files, load: analyzeWriteShape('load', trace, extents, files, rule, blockSize) };
}

/** The cycle's write shape: the load, the checkpoint (what was traced after the map), the page layout. */
export function cycleShape(profile: string, ctx: PgShapeContext, checkpointTrace: WriteTrace | undefined): PgWriteShape {
  const { rule, blockSize } = ruleOf(profile);
  const checkpoint = checkpointTrace ? analyzeWriteShape('checkpoint', checkpointTrace, ctx.extents, ctx.files, rule, blockSize) : undefined;
  delete ctx.load.pages;
  if (checkpoint) delete checkpoint.pages;
  return { load: ctx.load, checkpoint, layout: pageLayout(ctx.extents, ctx.files, rule, blockSize) };
}
