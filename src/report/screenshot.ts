/**
 * `npm run report:screenshot -- DIR`: a full-page PNG of DIR/index.html as
 * DIR/index.png, for people (README figures, reviewing a report). If index.html
 * is missing it is rendered from DIR/report.json first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUserError } from '../util/errors';
import { exitWhenFlushed } from '../util/output';
import { openHtml } from './browser';
import { REPORT_HTML, rerenderReportDir } from './writer';

export async function screenshotReportDir(dir: string, out = path.join(dir, 'index.png')): Promise<string> {
  const html = path.join(dir, REPORT_HTML);
  if (!fs.existsSync(html)) rerenderReportDir(dir);
  const opened = await openHtml(html);
  try {
    await opened.page.screenshot({ path: out, fullPage: true });
  } finally {
    await opened.close();
  }
  return out;
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npm run report:screenshot -- DIR   (writes DIR/index.png from DIR/index.html)\n');
    void exitWhenFlushed(2);
  } else {
    // Exit status as the CLI's: 2 bad input, 3 anything else (the tool failed, not a protection).
    screenshotReportDir(dir).then(
      (file) => {
        process.stdout.write(`wrote ${file}\n`);
        return exitWhenFlushed(0);
      },
      (e) => {
        process.stderr.write(`report:screenshot: ${(e as Error).message}\n`);
        return exitWhenFlushed(isUserError(e) ? 2 : 3);
      },
    );
  }
}
