/**
 * The local PostgreSQL runtime: Debian's PostgreSQL 15 binaries, run as the
 * `postgres` user. Where the binaries live can be overridden with
 * TORNLAB_PG_BIN (e.g. another major version's bin folder).
 */
import * as fs from 'node:fs';
import { Missing } from '../../src/export/preconditions';

export const PG_BIN = process.env.TORNLAB_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const PG_TOOLS = ['initdb', 'postgres', 'pg_ctl', 'pg_checksums', 'pg_amcheck', 'pgbench', 'psql', 'pg_waldump'] as const;
export type PgTool = (typeof PG_TOOLS)[number];

export function pgTool(name: PgTool): string {
  return `${PG_BIN}/${name}`;
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The `postgres` OS user from /etc/passwd (PostgreSQL refuses to run as root). */
export function postgresUser(): OsUser | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === 'postgres') return { name: 'postgres', uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd file
  }
  return undefined;
}

function amcheckInstalled(): boolean {
  const share = PG_BIN.replace(/\/lib\/postgresql\/(\d+)\/bin$/, '/share/postgresql/$1');
  return fs.existsSync(`${share}/extension/amcheck.control`);
}

/** What running PostgreSQL needs and this machine lacks. */
export function missingForPostgres(): Missing[] {
  const out: Missing[] = [];
  for (const t of PG_TOOLS) {
    try {
      fs.accessSync(pgTool(t), fs.constants.X_OK);
    } catch {
      out.push({ what: `PostgreSQL binary ${pgTool(t)}`, fix: 'apt-get install postgresql-15 (or set TORNLAB_PG_BIN to a PostgreSQL bin folder)' });
    }
  }
  if (!postgresUser()) out.push({ what: 'the postgres OS user', fix: 'apt-get install postgresql-15 creates it (or: useradd --system postgres)' });
  if (!amcheckInstalled()) out.push({ what: 'the amcheck extension', fix: 'apt-get install postgresql-contrib' });
  return out;
}
