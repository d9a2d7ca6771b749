/**
 * The local MariaDB runtime: Debian's mariadb-server (10.11 on bookworm),
 * run as the `mysql` OS user. TORNLAB_MARIADB_BIN overrides the folder of
 * mariadbd; the client tools (mariadb-install-db, innochecksum) are looked up
 * in /usr/bin unless TORNLAB_MARIADB_TOOLS names another folder.
 */
import * as fs from 'node:fs';
import { Missing } from '../../src/export/preconditions';
import { OsUser, osUser } from '../common/server-process';

export const MARIADB_SERVER = `${process.env.TORNLAB_MARIADB_BIN ?? '/usr/sbin'}/mariadbd`;
const TOOLS_DIR = process.env.TORNLAB_MARIADB_TOOLS ?? '/usr/bin';
export const MARIADB_TOOLS = ['mariadb-install-db', 'innochecksum'] as const;
export type MariadbTool = (typeof MARIADB_TOOLS)[number];

export function mariadbTool(name: MariadbTool): string {
  return `${TOOLS_DIR}/${name}`;
}

/** The `mysql` OS user from /etc/passwd (mariadbd drops to it). */
export function mysqlUser(): OsUser | undefined {
  return osUser('mysql');
}

/** What running MariaDB needs and this machine lacks. */
export function missingForMariadb(): Missing[] {
  const out: Missing[] = [];
  const fix = 'apt-get install --no-install-recommends mariadb-server (with a policy-rc.d that keeps the system service from starting; .ci/run does it)';
  for (const f of [MARIADB_SERVER, ...MARIADB_TOOLS.map(mariadbTool)]) {
    try {
      fs.accessSync(f, fs.constants.X_OK);
    } catch {
      out.push({ what: `MariaDB binary ${f}`, fix });
    }
  }
  if (!mysqlUser()) out.push({ what: 'the mysql OS user', fix });
  return out;
}
