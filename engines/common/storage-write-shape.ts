/**
 * The write shape of a `tornlab exec` or `tornlab sqlite` cycle (issue 13
 * item 2): the device's write requests from the mount to the cut, read
 * against the files of the crash image (FIEMAP through filefrag). The
 * analysis is src/export/write-shape.ts; this module only lists the files.
 *
 * Invariants:
 *  1. The file map is the crash image's: a file's blocks as the file system
 *     recovered them (a write to a block no surviving file maps is counted
 *     as a command, not as a page write).
 *  2. Only non-empty regular files are mapped; lost+found is not a file of
 *     the database.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeviceProfile } from '../../src/device/profiles';
import { powerFailAtomicity } from '../../src/device/identify';
import type { WriteTrace } from '../../src/export/device-host/client';
import { PageLayout, TracedFile, WriteShape, analyzeWriteShape, fileMap, pageLayout } from '../../src/export/write-shape';

/** Non-empty regular files under `mountPoint` (relative paths, sorted), each with its page size. */
export function filesUnder(mountPoint: string, pageSizeOf: (file: string) => number | undefined): TracedFile[] {
  const out: TracedFile[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(mountPoint, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (r !== 'lost+found') walk(r);
      } else if (e.isFile() && fs.statSync(path.join(mountPoint, r)).size > 0) {
        const pageSize = pageSizeOf(r);
        out.push(pageSize ? { file: r, pageSize } : { file: r });
      }
    }
  };
  walk('');
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** The traced writes read against the crash image mounted at `mountPoint` (file I/O: readdir, filefrag). */
export async function storageWriteShape(profile: DeviceProfile, trace: WriteTrace, mountPoint: string, pageSizeOf: (file: string) => number | undefined): Promise<{ load: WriteShape; layout: PageLayout }> {
  const files = filesUnder(mountPoint, pageSizeOf);
  const extents = await fileMap(mountPoint, files.map((f) => f.file));
  const rule = powerFailAtomicity(profile.identify);
  const blockSize = profile.identify.namespace.lbaDataSize;
  const load = analyzeWriteShape('load', trace, extents, files, rule, blockSize);
  // The per-page fates serve a torn-page match the exec and SQLite cycles do not make: the counts stay.
  delete load.pages;
  return { load, layout: pageLayout(extents, files, rule, blockSize) };
}
