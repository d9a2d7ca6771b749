import Ajv from 'ajv';
import { REPORT_JSON_SCHEMA, validateReport } from '../../src/report/validate';
import { renderJson } from '../../src/report/writer';
import { BadInputError } from '../../src/util/errors';
import { syntheticReport } from './fixture';

/** A fresh, mutable copy of the fixture as parsed JSON. */
function fresh(): any {
  return JSON.parse(renderJson(syntheticReport(undefined, 40)));
}

function errorOf(data: unknown): string {
  try {
    validateReport(data, 'x/report.json');
  } catch (e) {
    expect(e).toBeInstanceOf(BadInputError);
    return (e as Error).message;
  }
  throw new Error('expected validateReport to throw');
}

describe('report.json validation', () => {
  test('a built report is valid, also through the plain JSON Schema', () => {
    const data = fresh();
    expect(validateReport(data).cells).toHaveLength(24);
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
    expect(ajv.validate(REPORT_JSON_SCHEMA, data)).toBe(true);
  });

  test('a missing key is named with its path', () => {
    const d = fresh();
    delete d.cells[2].verdicts.ok;
    expect(errorOf(d)).toContain('cells[2].verdicts: missing key "ok"');
  });

  test('an unknown key is named', () => {
    const d = fresh();
    d.cells[0].bogus = 1;
    d.extra = true;
    const msg = errorOf(d);
    expect(msg).toContain('cells[0].bogus: unknown key');
    expect(msg).toContain('extra: unknown key');
  });

  test('bad values name the key and the allowed values', () => {
    const d = fresh();
    d.cells[5].status = 'fine';
    d.cells[1].bytesByTag.wal = -3;
    d.cells[1].hostWriteAmplification = 'high';
    const msg = errorOf(d);
    expect(msg).toContain('cells[5].status: must be one of "pass", "finding-expected", "finding-bug"');
    expect(msg).toContain('cells[1].bytesByTag.wal: must be >= 0');
    expect(msg).toContain('cells[1].hostWriteAmplification: must be number,null');
  });

  test('another schema version is refused with a clear message', () => {
    const d = fresh();
    d.schemaVersion = 2;
    expect(errorOf(d)).toMatch(/schemaVersion is 2, this tornlab reads schemaVersion 1/);
  });

  test('not an object at all', () => {
    expect(errorOf([1, 2])).toContain('(top level): must be object');
  });

  test('invariants between fields are checked and named', () => {
    const d = fresh();
    d.cells[1].hostWriteBytes += 1;
    d.cells[3].status = d.cells[3].status === 'pass' ? 'finding-bug' : 'pass';
    d.cells[4].verdicts.ok -= 1;
    d.totals.cells = 99;
    d.cells[6].id = 'wrong';
    const msg = errorOf(d);
    expect(msg).toContain('cells[1].hostWriteBytes: is');
    expect(msg).toContain('cells[3].status: is');
    expect(msg).toContain('cells[4].crashStatesTried: is 40 but verdicts sum to 39');
    expect(msg).toContain('totals.cells: is 99 but the cells give 24');
    expect(msg).toContain('cells[6].id: is "wrong"');
  });

  test('the error list is capped', () => {
    const d = fresh();
    for (const c of d.cells) c.status = 'bad';
    const msg = errorOf(d);
    expect(msg).toContain('... and 4 more');
  });
});
