/** engines/mariadb without a server: replay ids, verdicts from InnoDB's words, the doublewrite area, bad input. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CELL, parseMariadbReplayId, replayIdOf } from '../../engines/mariadb/cycle';
import { classifyCheckRow, doublewriteArea } from '../../engines/mariadb/checks';
import { Evidence, decideVerdict, logChecksumEvidence } from '../../engines/mariadb/verdict';
import { parseCampaign } from '../../src/campaign/campaign-file';
import { sectionCells } from '../campaign/sections';

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');

test('a replay id names the cell and parses back into it', () => {
  const cfg = { ...DEFAULT_CELL, doublewrite: false, flushMethod: 'fsync' as const, pageSize: 8192, seed: 7, crashes: 3, faults: ['lying-flush'] };
  const id = replayIdOf(cfg, 2);
  expect(id).toBe('mariadb:consumer-tlc+lying-flush:dblwr=off:fsync:8k:trx=1:ext4:flush:seed=7:cycle=2');
  const p = parseMariadbReplayId(id);
  expect(p.cycle).toBe(2);
  expect(replayIdOf(p.cfg, p.cycle)).toBe(id);
  expect(() => parseMariadbReplayId('pg:consumer-tlc:fpw=on:checkpoint:seed=1:cycle=0')).toThrow(/not a MariaDB replay id/);
  const fsOpts = { ...cfg, crashAt: 'unprotected' as const, mkfsOptions: ['-O', 'bigalloc', '-C', '16384'], mountOptions: ['dioread_nolock'] };
  const q = parseMariadbReplayId(replayIdOf(fsOpts, 1));
  expect(q.cfg).toMatchObject({ crashAt: 'unprotected', mkfsOptions: fsOpts.mkfsOptions, mountOptions: fsOpts.mountOptions });
  // --crash-at first-page (page 0 of a tablespace, torn on purpose) replays as itself.
  const first = replayIdOf({ ...cfg, crashAt: 'first-page' as const, pageSize: 65536 }, 3);
  expect(first).toContain(':64k:trx=1:ext4:first-page:seed=');
  expect(parseMariadbReplayId(first).cfg).toMatchObject({ crashAt: 'first-page', pageSize: 65536 });
  for (const crashAt of ['ibd-first-page', 'ibdata1-first-page'] as const) {
    const aimed = replayIdOf({ ...cfg, crashAt }, 1);
    expect(aimed).toContain(`:ext4:${crashAt}:seed=`);
    expect(parseMariadbReplayId(aimed).cfg.crashAt).toBe(crashAt);
  }
});

const oracle = { lostCommits: [], balanceSum: 100n, expectedSum: 100n, accountRows: 10, inconsistentAccounts: 0, presentTransfers: 5, queryErrors: [], oltpRows: 10, inconsistentBranches: 0 };

// Recovery logs MariaDB 10.11.19 wrote (64 KiB pages, doublewrite=1, consumer-tlc, --crash-at first-page), verbatim.
// ibdata1's torn page 0 is noticed at startup and then written back from the doublewrite buffer.
const IBDATA1_RESTORED_LOG = `2026-12-04 21:26:21 0 [Note] InnoDB: Checksum mismatch in datafile: ./ibdata1, Space ID: 0, Flags: 23
2026-12-04 21:26:21 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=6521758
2026-12-04 21:26:21 0 [Note] InnoDB: End of log at LSN=6549303
2026-12-04 21:26:21 0 [Note] InnoDB: Trying to recover page [page id: space=0, page number=0] from the doublewrite buffer.
2026-12-04 21:26:21 0 [Note] InnoDB: Recovered page [page id: space=0, page number=0] to './ibdata1' from the doublewrite buffer.
2026-12-04 21:26:21 0 [Note] InnoDB: Trying to recover page [page id: space=0, page number=2] from the doublewrite buffer.
2026-12-04 21:26:21 0 [Note] InnoDB: Recovered page [page id: space=0, page number=2] to './ibdata1' from the doublewrite buffer.
`;
// A .ibd's torn page 0 is never written back (docs/mariadb-page0-doublewrite.md); other pages are.
const IBD_PAGE0_LOST_LOG = `2026-12-04 21:26:27 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=6499873
2026-12-04 21:26:27 0 [Note] InnoDB: End of log at LSN=6709794
2026-12-04 21:26:27 0 [ERROR] InnoDB: The first page of file ./tornlab/sbtest1.ibd is corrupted
2026-12-04 21:26:27 0 [ERROR] InnoDB: The first page of file ./tornlab/sbtest1.ibd is corrupted
2026-12-04 21:26:27 0 [Note] InnoDB: Trying to recover page [page id: space=5, page number=27] from the doublewrite buffer.
2026-12-04 21:26:27 0 [Note] InnoDB: Recovered page [page id: space=5, page number=27] to './tornlab/accounts.ibd' from the doublewrite buffer.
`;

test('a checksum line that InnoDB then repaired from the doublewrite buffer is not damage', () => {
  const clean: Omit<Evidence, 'log'> = { refused: false, oracle, oltpRowsExpected: 10, checkTable: { problems: [], errors: [] }, innochecksum: { files: 9, bad: [], doublewriteSkipped: 0, unreadable: [] }, cleanShutdown: true };
  const lines = IBDATA1_RESTORED_LOG.split('\n');
  expect(logChecksumEvidence(IBDATA1_RESTORED_LOG)).toEqual({ damage: [], restored: ['ibdata1 page 0', 'ibdata1 page 2'], repairLines: [lines[0]] });
  expect(decideVerdict({ ...clean, log: IBDATA1_RESTORED_LOG })).toBe('ok');
  // The same Note with no restore after it is damage noticed; so is a restore that came before the mismatch.
  expect(decideVerdict({ ...clean, log: lines[0] })).toBe('torn-page-detected');
  expect(decideVerdict({ ...clean, log: [lines[4], lines[0]].join('\n') })).toBe('torn-page-detected');
  // A restore of another page does not answer it; the data checks still judge the data.
  expect(decideVerdict({ ...clean, log: [lines[0], lines[6]].join('\n') })).toBe('torn-page-detected');
  expect(decideVerdict({ ...clean, log: IBDATA1_RESTORED_LOG, oracle: { ...oracle, balanceSum: 19n } })).toBe('atomicity-violation');
  // A .ibd page 0 InnoDB could not open is noticed damage, whatever else it restored.
  expect(logChecksumEvidence(IBD_PAGE0_LOST_LOG).damage).toHaveLength(2);
  expect(decideVerdict({ ...clean, log: IBD_PAGE0_LOST_LOG })).toBe('torn-page-detected');
  // A redo record InnoDB skipped over a page it found inconsistent (then it started anyway) is damage it noticed.
  const skipped = '2026-12-04 21:38:48 0 [ERROR] InnoDB: Not applying DELETE_ROW_FORMAT_DYNAMIC due to corruption on [page id: space=8, page number=40]';
  expect(logChecksumEvidence([lines[0], skipped, lines[4]].join('\n')).damage).toEqual([skipped]);
  expect(decideVerdict({ ...clean, log: skipped, checkTable: { problems: [{ table: 'tornlab.sbtest1', msgType: 'error', msgText: 'Corrupt' }], errors: [] } })).toBe('torn-page-detected');
});

test('verdicts from the evidence', () => {
  const refusedLog = '[ERROR] InnoDB: Unable to apply log to corrupted page 48 in file ./ibdata1\n[ERROR] InnoDB: Plugin initialization aborted with error Page read from tablespace is corrupted.';
  expect(decideVerdict({ refused: true, log: refusedLog })).toBe('torn-page-detected');
  expect(decideVerdict({ refused: true, log: '[ERROR] InnoDB: Missing MLOG_CHECKPOINT' })).toBe('recovery-failed');
  expect(decideVerdict({ refused: false, log: '', oracle, oltpRowsExpected: 10 })).toBe('ok');
  expect(decideVerdict({ refused: false, log: '', oracle: { ...oracle, lostCommits: [3] } })).toBe('lost-commit');
  expect(decideVerdict({ refused: false, log: '', oracle: { ...oracle, inconsistentAccounts: 2 } })).toBe('atomicity-violation');
  expect(decideVerdict({ refused: false, log: '', oracle, oltpRowsExpected: 11 })).toBe('atomicity-violation');
  const badPage = { files: 4, bad: [{ file: 'tornlab/accounts.ibd', page: 9 }], doublewriteSkipped: 0, unreadable: [] };
  expect(decideVerdict({ refused: false, log: '', oracle, innochecksum: badPage })).toBe('torn-page-detected');
  // CHECK TABLE finds a broken structure while every checksum passes: silent corruption.
  const structure = { problems: [{ table: 'tornlab.accounts', msgType: 'error', msgText: 'Corrupt' }], errors: [] };
  expect(decideVerdict({ refused: false, log: '', oracle, checkTable: structure, innochecksum: { ...badPage, bad: [] } })).toBe('silent-corruption');
});

test('CHECK TABLE rows: a delete-marked orphan in a secondary index is benign, any other warning or error is a problem', () => {
  // Seen after a doublewrite=1 cycle at 64 KiB pages, every acknowledged commit present (2026-12-03).
  const orphan = 'InnoDB: Clustered index record not found for index `k_1` of table `tornlab`.`sbtest1`: COMPACT RECORD(info_bits=32, 2 fields): {[4]    (0x80000BA5),[4]    (0x80000BA5)}';
  const row = (msgType: string, msgText: string) => ({ table: 'tornlab.sbtest1', msgType, msgText });
  expect(classifyCheckRow(row('status', 'OK'))).toBe('ok');
  expect(classifyCheckRow(row('note', 'The storage engine for the table does not support check'))).toBe('ok');
  expect(classifyCheckRow(row('Warning', orphan))).toEqual({ benign: expect.stringMatching(/delete-marked .*MDEV-29823/) });
  // Delete-marked and the minimum-record flag: still delete-marked.
  expect(classifyCheckRow(row('Warning', orphan.replace('info_bits=32', 'info_bits=48')))).toEqual({ benign: expect.any(String) });
  // Not delete-marked: a live row without its clustered record is corruption.
  expect(classifyCheckRow(row('Warning', orphan.replace('info_bits=32', 'info_bits=0')))).toBe('problem');
  expect(classifyCheckRow(row('Error', orphan))).toBe('problem');
  expect(classifyCheckRow(row('status', 'Corrupt'))).toBe('problem');
  expect(classifyCheckRow(row('Warning', 'InnoDB: Index k_1 contains 9999 entries, should be 10000.'))).toBe('problem');
  // With only benign rows the cycle is ok.
  expect(decideVerdict({ refused: false, log: '', oracle, oltpRowsExpected: 10, checkTable: { problems: [], benign: [{ ...row('Warning', orphan), why: 'x' }], errors: [] } })).toBe('ok');
});

test('the doublewrite area is read from the TRX_SYS page', () => {
  const ps = 16384;
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-dblwr-')), 'ibdata1');
  const buf = Buffer.alloc(6 * ps);
  const at = 5 * ps + ps - 200;
  buf.writeUInt32BE(536853855, at + 10);
  buf.writeUInt32BE(64, at + 14);
  buf.writeUInt32BE(128, at + 18);
  fs.writeFileSync(f, buf);
  expect(doublewriteArea(f, ps)).toEqual([
    [64, 128],
    [128, 192],
  ]);
  buf.writeUInt32BE(0, at + 10);
  fs.writeFileSync(f, buf);
  expect(doublewriteArea(f, ps)).toEqual([]);
  fs.rmSync(path.dirname(f), { recursive: true });
});

test.each([
  [['mariadb'], /--doublewrite must be on or off/],
  [['mariadb', '--doublewrite', 'maybe'], /--doublewrite must be on or off/],
  [['mariadb', '--doublewrite', 'off', '--page-size', '12k'], /--page-size must be 4k, 8k, 16k, 32k or 64k/],
  [['mariadb', '--doublewrite', 'off', '--flush-method', 'O_SYNC'], /--flush-method must be one of O_DIRECT, fsync, O_DIRECT_NO_FSYNC/],
  [['mariadb', '--replay', 'mariadb:nope'], /not a MariaDB replay id/],
])('tornlab %j: exit 2 with a message', (args, message) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('a campaign file\'s mariadb section expands into cells (profiles x doublewrite) with their settings', () => {
  const c = parseCampaign('profiles: [consumer-tlc, atomic-16k]\nmodes: []\nmariadb: {doublewrite: [on, off], crashes: 3, seed: 5, mkfsOptions: ["-O bigalloc -C 16384"]}\n', 'md.yaml');
  const cells = sectionCells(c, 'mariadb');
  expect(cells.map((x) => `${x.profile}:${x.doublewrite}`)).toEqual(['consumer-tlc:true', 'consumer-tlc:false', 'atomic-16k:true', 'atomic-16k:false']);
  expect(cells[0]).toMatchObject({ crashes: 3, seed: 5, pageSize: 16384, flushMethod: 'O_DIRECT', mkfsOptions: ['-O', 'bigalloc', '-C', '16384'] });
  expect(() => parseCampaign('mariadb: {doublewrite: [maybe]}\n', 'bad.yaml')).toThrow(/doublewrite/);
});
