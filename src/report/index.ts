/** Public surface of src/report for the campaign layer and the CLI. */
export * from './schema';
export { buildCellResult, buildReport, cellId, cellStatus, latencySummary, measurementsFromCounters, bugCells, harnessErrorCells, DEFAULT_FINDINGS_CAP } from './build';
export type { CellMeasurements, ReportInput } from './build';
export { validateReport, REPORT_JSON_SCHEMA, REPORT_JSON_SCHEMA_V1 } from './validate';
export { renderMarkdown } from './markdown';
export { renderHtml } from './html';
export { writeReportDir, readReportDir, rerenderReportDir, renderReportFiles, REPORT_JSON, REPORT_MD, REPORT_HTML } from './writer';
export { percentile } from '../util/percentile';
