/** Can a container test run here? Synchronous (jest decides before the tests run); one line saying why not. */
import { execFileSync } from 'node:child_process';
import { missingForExport } from '../../src/export';
import { DOCKER_SOCKET, RUN_LABEL, ourDaemonPid } from '../../src/export/containers/dockerd';
import { IMAGES, ImageName, imageTag } from '../../src/export/containers/images';

export function unavailable(image: ImageName): string | undefined {
  const m = missingForExport('ext4');
  if (m.length) return `no block export here (${m.map((x) => x.what).join(', ')})`;
  if (ourDaemonPid() === undefined) return "tornlab's dockerd is not running (tornlab containers setup starts it)";
  const tag = imageTag(IMAGES[image]);
  try {
    execFileSync('docker', ['-H', `unix://${DOCKER_SOCKET}`, 'image', 'inspect', tag], { stdio: 'ignore', timeout: 60_000 });
  } catch {
    return `image ${tag} is missing (tornlab containers setup --images ${image})`;
  }
  return undefined;
}

/** Containers on tornlab's daemon carrying the run's label. */
export function labelledContainersOf(runId: string): string[] {
  const out = execFileSync('docker', ['-H', `unix://${DOCKER_SOCKET}`, 'ps', '-aq', '--filter', `label=${RUN_LABEL}=${runId}`], { encoding: 'utf8', timeout: 60_000 });
  return out.split('\n').filter(Boolean);
}
