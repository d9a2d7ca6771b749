/** The package version, found by walking up from this file (works from src/ under ts-jest and from dist/). */
import fs from 'fs';
import path from 'path';

function findPackageJson(): { version: string } {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8'));
    if (path.dirname(dir) === dir) return { version: '0.0.0' };
  }
}

export const TOOL_VERSION: string = findPackageJson().version;
