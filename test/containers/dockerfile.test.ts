/**
 * The tool's own image (docker/Dockerfile, issue 12 point 8): built here with
 * no registry from the local pg15 base and this tree's dist/, and `docker run`
 * of it runs a campaign (a small one of the default campaign's shape: the full
 * default campaign takes minutes) and writes its report. Skipped with one line
 * when no engine or base image can be had.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_SOCKET, RUN_LABEL } from '../../src/export/containers/dockerd';
import { ensureToolImage } from '../../src/export/containers/tool-image';
import { unavailable } from './available';

const why = unavailable('pg15');
// eslint-disable-next-line no-console
if (why) console.log(`the tool image: skipped: ${why}`);
const d = why ? describe.skip : describe;

d('the tool image', () => {
  jest.setTimeout(600_000);

  test('builds from the local base and runs a campaign under docker run', async () => {
    const repo = path.resolve(__dirname, '../..');
    const t = await ensureToolImage(repo, () => undefined);
    // eslint-disable-next-line no-console
    console.log(`tool image ${t.tag} ${t.how} in ${t.ms} ms`);
    expect(t.tag).toMatch(/^tornlab\/tool:[0-9a-f]{12}$/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-tool-'));
    try {
      fs.writeFileSync(path.join(dir, 'small.yaml'), 'name: tool-smoke\nmodes: [none, fpw]\nprofiles: [consumer-tlc]\nworkloads: [{name: bank, txns: 60}]\ncrashes: 20\nseed: 4\n');
      const t0 = Date.now();
      let status = 0;
      try {
        execFileSync('docker', ['-H', `unix://${DOCKER_SOCKET}`, 'run', '--rm', '--network', 'none', '--label', `${RUN_LABEL}=tool-test-${process.pid}`, '-v', `${dir}:/work`, t.tag, 'campaign', '/work/small.yaml', '--out', '/work/out', '--workers', '1'], { stdio: 'pipe', timeout: 300_000 });
      } catch (e) {
        status = (e as { status: number }).status;
      }
      // eslint-disable-next-line no-console
      console.log(`docker run of the tool image: exit ${status} in ${Date.now() - t0} ms`);
      // 1: the none cell on consumer-tlc is an expected demonstration, not a bug; 0 is the campaign's pass.
      expect(status).toBe(0);
      const report = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')) as { cells: { mode: string; status: string }[] };
      expect(report.cells.map((c) => `${c.mode}:${c.status}`)).toEqual(['none:finding-expected', 'fpw:pass']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
