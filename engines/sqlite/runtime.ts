/**
 * Where the SQLite child runs: on the host (`local`), or in a fresh container
 * of the tornlab SQLite image for each phase (`container`: the load child,
 * then the verify child). In a container the host's node binary and this
 * repository (the compiled child and its better-sqlite3) are bind-mounted
 * read-only, the storage folder read-write, all at their host paths; no
 * network, no privileges.
 *
 * Invariants:
 * 1. A container is in the ledger (kind `container`) from before `docker run`
 *    until it is known to be gone, and carries RUN_LABEL.
 * 2. Killing a container child never waits for the daemon (see
 *    src/export/containers/containers.ts): the in-container processes are
 *    found by the files they hold under the storage folder and SIGKILLed on
 *    the host; the removal of the container is queued (settle()).
 */
import * as path from 'node:path';
import { RUN_LABEL, DOCKER_SOCKET, dockerCli, docker } from '../../src/export/containers/dockerd';
import { IMAGES, imageTag } from '../../src/export/containers/images';
import { containerUnavailable } from '../../src/export/containers/availability';
import { track } from '../../src/export/containers/containers';
import { runLedger } from '../../src/export/ledger';
import { PreconditionError } from '../../src/util/errors';

export type SqliteRuntime = 'local' | 'container';

export interface ChildCommand {
  file: string;
  args: string[];
  /** The container's name (container runtime). */
  container?: string;
}

let counter = 0;
let image: string | undefined;

/** Check the container runtime can run (the daemon runs, the image exists); PreconditionError otherwise. */
export async function resolveSqliteRuntime(rt: SqliteRuntime): Promise<void> {
  if (rt === 'local') return;
  const why = await containerUnavailable('sqlite');
  if (why) throw new PreconditionError(`SQLite in a container: ${why}`);
  image = imageTag(IMAGES.sqlite);
}

/** The command that runs `node childJs mode json` in the runtime, with `dir` reachable. */
export function childCommand(rt: SqliteRuntime, childJs: string, mode: string, json: string, dir: string): ChildCommand {
  if (rt === 'local') return { file: process.execPath, args: [childJs, mode, json] };
  if (!image) throw new Error('SQLite container runtime not resolved (call resolveSqliteRuntime first)');
  const ledger = runLedger();
  const name = `tornlab-${ledger.runId}-sqlite-${++counter}`;
  ledger.add('container', name, image);
  const repo = path.resolve(path.dirname(childJs), '../../..');
  const args = ['-H', `unix://${DOCKER_SOCKET}`, 'run', '--rm', '--name', name, '--network', 'none', '--label', `${RUN_LABEL}=${ledger.runId}`, '-u', '0', '-e', 'LANG=C'];
  args.push('-v', `${process.execPath}:${process.execPath}:ro`, '-v', `${repo}:${repo}:ro`, '-v', `${dir}:${dir}`);
  args.push(image, process.execPath, childJs, mode, json);
  return { file: dockerCli(), args, container: name };
}

/**
 * After the child's `docker run` ended: a container that exited by itself is
 * gone (--rm); one whose client was killed is removed in the background.
 */
export function releaseChild(c: ChildCommand, exitedByItself: boolean): void {
  if (!c.container) return;
  const name = c.container;
  const ledger = runLedger();
  if (exitedByItself) {
    ledger.remove('container', name);
    return;
  }
  track(
    docker(['rm', '-f', name], 120_000).then((r) => {
      if (r.code === 0 || /No such container/.test(r.stderr)) ledger.remove('container', name);
    }),
  );
}
