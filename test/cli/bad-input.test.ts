/** Issue 16: bad input is exit 2 with a message naming what is wrong and how to fix it, never a stack trace. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const CLI = path.join(__dirname, '../../dist/src/cli/main.js');
const tornlab = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('replay ids with out-of-range fields', () => {
  // A crash point this cell's run reaches (found by tornlab run), then out-of-range variants of it.
  const base = 'tl1.minipage.none.consumer-tlc.8192.bank.50.1.p83';
  test.each([
    ['crash point', 'tl1.minipage.none.consumer-tlc.8192.bank.50.1.p999999999.s0', /crash point is out of range/],
    ['survivor choice', `${base}.ezzzzzzzzz`, /survivor choice is out of range: choice index \d+ outside 0\.\.\d+/],
    ['recovery crash point', `${base}.s0.r999999999.s0`, /recovery crash point is out of range/],
  ])('%s: exit 2, one line, no stack', (_what, id, message) => {
    const r = tornlab('replay', id);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
