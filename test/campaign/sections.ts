/** Test helper: the cells of one real-database section of a campaign file, as its adapter expands them. */
import type { CampaignFile } from '../../src/campaign/campaign-file';
import { expandRealDatabaseCells } from '../../src/campaign/real-database-lane';

export function sectionCells<Cfg = any>(file: CampaignFile, kind: 'pg' | 'mariadb' | 'sqlite', source = 'campaign'): Cfg[] {
  return expandRealDatabaseCells(file, source).filter((c) => c.adapter.kind === kind).map((c) => c.cfg as Cfg);
}
