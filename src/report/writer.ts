/**
 * The only module of src/report that touches the file system: renders a
 * report into its three files and reads a report directory back.
 *
 *   report.json  the data (schemaVersion 2, schema 1 still read; validated on load)
 *   report.md    Markdown tables
 *   index.html   self-contained page with SVG charts
 *   cells/       the cell log: campaign.json (title, campaign, cell count) at
 *                the start, then NNNN.json, one CellResult per finished cell,
 *                each written once and never rewritten (append-only), so a run
 *                that ends early keeps every cell it finished; `tornlab report
 *                DIR` builds a partial report from it
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
import { CellResult, Report } from './schema';
import { validateReport } from './validate';
import { buildReport } from './build';

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

export const CELL_LOG = 'cells';
const CELL_LOG_HEAD = 'campaign.json';

/** What a cell log starts with: enough to build the report from its cells. */
export interface CellLogHead {
  toolVersion: string;
  title: string;
  campaign: object;
  /** Cells the run set out to finish. */
  cells: number;
  generatedAt?: string;
}

/**
 * Start the cell log of a run in DIR/cells (a log left by an earlier run into
 * the same DIR goes: its report is being replaced too; a DIR/cells that is
 * not a cell log is refused, never removed).
 */
export function startCellLog(dir: string, head: CellLogHead): void {
  const log = path.join(dir, CELL_LOG);
  if (fs.existsSync(log)) {
    // Only a log of ours is replaced, file by file: a folder of the same name that is not one stays untouched.
    if (!fs.existsSync(path.join(log, CELL_LOG_HEAD))) throw new BadInputError(`${log} exists and is not a tornlab cell log; give another --out folder or move it`);
    for (const n of fs.readdirSync(log)) if (n === CELL_LOG_HEAD || /^\d+\.json$/.test(n)) fs.rmSync(path.join(log, n));
  }
  fs.mkdirSync(log, { recursive: true });
  writeFileAtomic(path.join(log, CELL_LOG_HEAD), JSON.stringify(head, null, 2) + '\n');
}

/** Log one finished cell (index from 0) as DIR/cells/NNNN.json, never rewritten. */
export function logCell(dir: string, index: number, cell: CellResult): void {
  const file = path.join(dir, CELL_LOG, `${String(index + 1).padStart(4, '0')}.json`);
  if (fs.existsSync(file)) throw new Error(`cell log ${file} exists: a cell is logged once`);
  writeFileAtomic(file, JSON.stringify(cell, null, 2) + '\n');
}

/** Read DIR/cells: its head and the logged cells in the order they finished; undefined when there is no log. */
export function readCellLog(dir: string): { head: CellLogHead; cells: CellResult[] } | undefined {
  const log = path.join(dir, CELL_LOG);
  const headFile = path.join(log, CELL_LOG_HEAD);
  if (!fs.existsSync(headFile)) return undefined;
  const parse = (file: string): unknown => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new BadInputError(`${file} is not valid JSON: ${(e as Error).message}; remove it to build the report from the other cells`);
    }
  };
  const head = parse(headFile) as CellLogHead;
  const names = fs.readdirSync(log).filter((n) => /^\d+\.json$/.test(n)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  return { head, cells: names.map((n) => parse(path.join(log, n)) as CellResult) };
}

/**
 * A report from DIR's cell log (a run that ended before its report was
 * written); `partial` when fewer cells were logged than the run set out to
 * finish. The title says so too. The report is validated like any other.
 */
export function reportFromCellLog(dir: string): { report: Report; partial: boolean; logged: number; planned: number } | undefined {
  const log = readCellLog(dir);
  if (!log) return undefined;
  const partial = log.cells.length < log.head.cells;
  const title = partial ? `${log.head.title} (partial: ${log.cells.length} of ${log.head.cells} cells)` : log.head.title;
  const report = buildReport({ toolVersion: log.head.toolVersion, generatedAt: log.head.generatedAt, title, campaign: log.head.campaign, cells: log.cells });
  return { report: validateReport(JSON.parse(renderJson(report)), path.join(dir, CELL_LOG)), partial, logged: log.cells.length, planned: log.head.cells };
}

/**
 * `tornlab report DIR`: validate DIR/report.json and (re)write report.md and
 * index.html from it. Without report.json, but with a cell log (a run that
 * ended early), build all three from the logged cells and say it is partial.
 */
export function rerenderReportDir(dir: string): { report: Report; written: string[]; partial?: { logged: number; planned: number } } {
  if (fs.existsSync(dir) && !fs.existsSync(path.join(dir, REPORT_JSON))) {
    const fromLog = reportFromCellLog(dir);
    if (fromLog) {
      const written = writeReportDir(dir, fromLog.report);
      return { report: fromLog.report, written, ...(fromLog.partial ? { partial: { logged: fromLog.logged, planned: fromLog.planned } } : {}) };
    }
  }
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
