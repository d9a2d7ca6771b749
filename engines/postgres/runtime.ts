/**
 * The local PostgreSQL runtime: Debian's PostgreSQL 15 binaries, run as the
 * `postgres` user. Where the binaries live can be overridden with
 * TORNLAB_PG_BIN (e.g. another major version's bin folder).
 */
import * as fs from 'node:fs';
import { Missing } from '../../src/export/preconditions';
import { run } from '../../src/export/exec';
import { BadInputError } from '../../src/util/errors';
import { OsUser, osUser } from '../common/server-process';

export const PG_BIN = process.env.TORNLAB_PG_BIN ?? '/usr/lib/postgresql/15/bin';
export const PG_TOOLS = ['initdb', 'postgres', 'pg_ctl', 'pg_checksums', 'pg_amcheck', 'pgbench', 'psql', 'pg_waldump'] as const;
export type PgTool = (typeof PG_TOOLS)[number];

export function pgTool(name: PgTool): string {
  return `${PG_BIN}/${name}`;
}

/** The `postgres` OS user from /etc/passwd (PostgreSQL refuses to run as root). */
export function postgresUser(): OsUser | undefined {
  return osUser('postgres');
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

/**
 * Check extra server settings (--set NAME=VALUE) with PostgreSQL itself,
 * before any work: `postgres -c NAME=VALUE -C NAME` without a data folder
 * parses every -c option (a FATAL line for a bad name or value) and only
 * then stops for want of a data folder. A refused setting is bad input
 * (exit 2), with the server's own words.
 */
export async function checkPgSettings(settings: Record<string, string>): Promise<void> {
  const names = Object.keys(settings);
  const user = postgresUser();
  if (names.length === 0 || !user) return;
  const args = names.flatMap((k) => ['-c', `${k}=${settings[k]}`]);
  const env = { ...process.env };
  delete env.PGDATA;
  const r = await run(pgTool('postgres'), [...args, '-C', names[0]], { uid: user.uid, gid: user.gid, env, cwd: '/', timeoutMs: 30_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  const fatal = /FATAL:\s+(.*)/.exec(out);
  if (!fatal) return;
  const hint = /HINT:\s+(.*)/.exec(out);
  throw new BadInputError(`--set: PostgreSQL refuses the setting: ${fatal[1].trim()}${hint ? ` (${hint[1].trim()})` : ''}; fix or drop that --set`);
}
