/**
 * The only module of src/report that touches the file system: renders a
 * report into its three files and reads a report directory back.
 *
 *   report.json  the data (schemaVersion 2, schema 1 still read; validated on load)
 *   report.md    Markdown tables
 *   index.html   self-contained page with SVG charts
 *
 * Each file is written under a temporary name in its directory and renamed
 * into place (src/util/output.ts writeFileAtomic): a run killed while writing
 * leaves the previous file or none, never half of one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../util/errors';
import { writeFileAtomic } from '../util/output';
import { renderHtml } from './html';
import { renderMarkdown } from './markdown';
import { Report } from './schema';
import { validateReport } from './validate';

export const REPORT_JSON = 'report.json';
export const REPORT_MD = 'report.md';
export const REPORT_HTML = 'index.html';

/** report.json text: 2-space JSON with a final newline; key order is the order the builder gives. */
export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** All files of a report directory, by file name. Pure. */
export function renderReportFiles(report: Report): Record<string, string> {
  return { [REPORT_JSON]: renderJson(report), [REPORT_MD]: renderMarkdown(report), [REPORT_HTML]: renderHtml(report) };
}

/**
 * Write report.json, report.md and index.html into dir (created if missing).
 * The report is validated first, so a directory never holds a report that
 * `tornlab report` would refuse. Returns the paths written.
 */
export function writeReportDir(dir: string, report: Report): string[] {
  validateReport(JSON.parse(renderJson(report)), `report for ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of Object.entries(renderReportFiles(report))) {
    const file = path.join(dir, name);
    writeFileAtomic(file, text);
    written.push(file);
  }
  return written;
}

/** Read and validate DIR/report.json. Missing or invalid input is a BadInputError naming the file and key. */
export function readReportDir(dir: string): Report {
  const file = path.join(dir, REPORT_JSON);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new BadInputError(`report directory ${dir} does not exist; give the directory a campaign wrote its report.json into (tornlab campaign FILE --out DIR)`);
  }
  if (!fs.existsSync(file)) {
    throw new BadInputError(`${file} is missing; give the directory a campaign wrote its report.json into (tornlab campaign FILE --out DIR)`);
  }
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BadInputError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validateReport(data, file);
}

/** `tornlab report DIR`: validate DIR/report.json and (re)write report.md and index.html from it. */
export function rerenderReportDir(dir: string): { report: Report; written: string[] } {
  const report = readReportDir(dir);
  const written: string[] = [];
  for (const [name, text] of [
    [REPORT_MD, renderMarkdown(report)],
    [REPORT_HTML, renderHtml(report)],
  ] as const) {
    const file = path.join(dir, name);
    writeFileAtomic(file, text);
    written.push(file);
  }
  return { report, written };
}
