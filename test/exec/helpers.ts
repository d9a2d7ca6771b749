/** Small process checks shared by the exec tests. */
import * as fs from 'fs';

/** Running (alive and not a zombie)? */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Wait until `cond` holds, at most `ms`, polling every `pollMs`; the last evaluation is the answer. */
export async function until(cond: () => boolean, ms: number, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, pollMs));
  return cond();
}
