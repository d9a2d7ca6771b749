/**
 * Headless Chromium for looking at index.html: Debian's /usr/bin/chromium
 * driven by playwright-core (which never downloads a browser). Used by the
 * screenshot command and the report's browser test. Offline by construction:
 * every request that is not the file being shown is aborted and recorded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PreconditionError } from '../util/errors';

/** TORNLAB_CHROMIUM overrides the Debian path. */
export function chromiumPath(): string {
  return process.env.TORNLAB_CHROMIUM || '/usr/bin/chromium';
}

export function chromiumAvailable(): boolean {
  try {
    fs.accessSync(chromiumPath(), fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface OpenedPage {
  page: import('playwright-core').Page;
  /** URLs the page tried to fetch other than itself (all were aborted). */
  blockedRequests: string[];
  close(): Promise<void>;
}

/** Open an HTML file in a fresh headless Chromium profile with a fixed viewport. */
export async function openHtml(file: string, viewport = { width: 1400, height: 900 }): Promise<OpenedPage> {
  if (!chromiumAvailable()) throw new PreconditionError(`Chromium not found at ${chromiumPath()}; install Debian's chromium package (apt-get install chromium) or set TORNLAB_CHROMIUM`);
  // require, not import(): keeps playwright-core (a dev dependency) out of the load path of the CLI.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args: ARGS,
    viewport,
    deviceScaleFactor: 1,
    offline: true,
  });
  const url = pathToFileURL(path.resolve(file)).href;
  const blockedRequests: string[] = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u === url) return route.continue();
    blockedRequests.push(u);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url, { waitUntil: 'load' });
  return {
    page,
    blockedRequests,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
