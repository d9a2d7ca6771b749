import { BadInputError } from '../../src/util/errors';
import { cellPromise, gridCells, parseCell, parseJournalMode, parsePageSize, parseSynchronous } from '../../engines/sqlite/cell';

describe('SQLite cell options', () => {
  test('accepts the grid, case-insensitively', () => {
    expect(parseCell({ journalMode: 'wal', synchronous: 'normal', pageSize: '16384' })).toEqual({ journalMode: 'WAL', synchronous: 'NORMAL', pageSize: 16384 });
    expect(gridCells()).toHaveLength(45);
  });

  test.each([
    () => parseJournalMode('MEMORY'),
    () => parseJournalMode('sometimes'),
    () => parseSynchronous('ALWAYS'),
    () => parsePageSize('5000'),
    () => parsePageSize('256'),
    () => parsePageSize('131072'),
    () => parsePageSize('4k'),
  ])('rejects bad input %#', (f) => {
    expect(f).toThrow(BadInputError);
  });

  test('names what is wrong and how to fix it', () => {
    expect(() => parsePageSize('5000')).toThrow(/power of two from 512 to 65536/);
    expect(() => parseJournalMode('x')).toThrow(/DELETE, TRUNCATE, PERSIST, WAL, OFF/);
  });

  test('promises follow the SQLite documentation', () => {
    expect(cellPromise({ journalMode: 'WAL', synchronous: 'FULL', pageSize: 4096 })).toEqual({ integrity: true, durability: true });
    const walNormal = cellPromise({ journalMode: 'WAL', synchronous: 'NORMAL', pageSize: 4096 });
    expect(walNormal).toMatchObject({ integrity: true, durability: false });
    expect(cellPromise({ journalMode: 'OFF', synchronous: 'FULL', pageSize: 4096 }).integrity).toBe(false);
    expect(cellPromise({ journalMode: 'TRUNCATE', synchronous: 'OFF', pageSize: 4096 }).integrity).toBe(false);
    expect(cellPromise({ journalMode: 'DELETE', synchronous: 'FULL', pageSize: 4096 }).lastCommitMayRollBack).toMatch(/EXTRA/);
    expect(cellPromise({ journalMode: 'DELETE', synchronous: 'EXTRA', pageSize: 4096 }).lastCommitMayRollBack).toBeUndefined();
    expect(cellPromise({ journalMode: 'TRUNCATE', synchronous: 'FULL', pageSize: 4096 }).lastCommitMayRollBack).toBeUndefined();
    expect(cellPromise({ journalMode: 'TRUNCATE', synchronous: 'NORMAL', pageSize: 4096 }).lastCommitMayRollBack).toMatch(/only with synchronous=FULL/);
    expect(cellPromise({ journalMode: 'PERSIST', synchronous: 'NORMAL', pageSize: 4096 }).lastCommitMayRollBack).toBeUndefined();
  });
});
