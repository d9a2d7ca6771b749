import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';

/**
 * reports/example is produced by `npm run report:example` (the default
 * campaign, seed 42, timestamp fixed). Running it again must give the same
 * bytes: every figure in it is a function of the code and the seed.
 */
test('the committed example report is reproducible byte for byte', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-example-'));
  try {
    const cli = path.join(__dirname, '../../dist/src/cli/main.js');
    const r = spawnSync(process.execPath, [cli, 'campaign', '--default', '--out', dir, '--generated-at', '2026-11-21T00:00:00.000Z'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const f of ['report.json', 'report.md', 'index.html']) {
      const committed = fs.readFileSync(path.join(__dirname, '../../reports/example', f), 'utf8');
      expect(fs.readFileSync(path.join(dir, f), 'utf8') === committed).toBe(true);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);
