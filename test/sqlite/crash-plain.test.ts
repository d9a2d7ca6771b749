/**
 * Crash cycles without a device: the load child is SIGKILLed mid-workload on a
 * plain temp directory. The kernel keeps every write, so every journal mode
 * that has a journal must come back ok with every acknowledged commit.
 * (Runs the compiled child from dist/: `npm test` builds it first.)
 */
import { openPlainDirectory } from '../../engines/common/storage';
import { runSqliteCampaign } from '../../engines/sqlite/campaign';
import { JournalMode } from '../../engines/sqlite/cell';

describe('SQLite crash cycles, SIGKILL only (plain directory)', () => {
  test.each<[JournalMode, 'FULL' | 'NORMAL' | 'OFF']>([
    ['DELETE', 'FULL'],
    ['WAL', 'NORMAL'],
    ['TRUNCATE', 'OFF'],
    ['PERSIST', 'FULL'],
  ])('%s / synchronous=%s: every cycle ok', async (journalMode, synchronous) => {
    const r = await runSqliteCampaign({
      cell: { journalMode, synchronous, pageSize: 4096 },
      crashes: 3,
      seed: 21,
      openStorage: () => openPlainDirectory(),
    });
    expect(r.storage).toBe('plain-directory');
    for (const c of r.cycles) {
      expect({ cycle: c.cycle, verdict: c.verdict, messages: c.messages }).toEqual({ cycle: c.cycle, verdict: 'ok', messages: [] });
      expect(c.recoveredTxid).toBeGreaterThanOrEqual(c.ackedTxid);
      expect(c.ackedTxid).toBeGreaterThanOrEqual(3);
    }
  });
});
