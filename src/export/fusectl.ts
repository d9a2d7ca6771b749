/**
 * Aborting FUSE connections through fusectl (see fuse-conn.ts for why).
 * Apart from fuse-conn.ts so that exec.ts, which needs fuse-conn's
 * descriptor helpers, and this module, which runs commands, form no cycle.
 */
import * as fs from 'node:fs';
import { run } from './exec';

/**
 * Abort FUSE connections (fail every waiting request) through a fusectl
 * mount at `scratchDir` (created and removed here). Returns the ids aborted.
 */
export async function abortConnections(ids: number[], scratchDir: string): Promise<number[]> {
  if (ids.length === 0) return [];
  fs.mkdirSync(scratchDir, { recursive: true });
  const m = await run('mount', ['-t', 'fusectl', 'none', scratchDir], { timeoutMs: 15_000 });
  if (m.code !== 0) {
    fs.rmdirSync(scratchDir);
    throw new Error(`cannot mount fusectl to abort FUSE connections: ${m.stderr.trim()}`);
  }
  const done: number[] = [];
  try {
    for (const id of ids) {
      try {
        fs.writeFileSync(`${scratchDir}/${id}/abort`, '1');
        done.push(id);
      } catch {
        // already gone
      }
    }
  } finally {
    await run('umount', [scratchDir], { timeoutMs: 15_000 });
    fs.rmdirSync(scratchDir);
  }
  return done;
}
