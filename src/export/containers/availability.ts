/**
 * Can a container cell run here? One line saying why not, or undefined. A
 * run never starts a daemon or builds an image by itself (that is setup's
 * job, minutes long); it uses what `tornlab containers setup` made.
 */
import { engineStatus, missingForEngine } from './dockerd';
import { IMAGES, ImageName, debianMirror, imageExists, imageTag } from './images';

export async function containerUnavailable(image: ImageName): Promise<string | undefined> {
  const missing = missingForEngine();
  if (missing.length) return `no container engine: ${missing.map((m) => m.what).join(', ')} missing (${missing[0].fix})`;
  const st = await engineStatus();
  if (!st.running) return `tornlab's dockerd is not running (run \`tornlab containers setup --images ${image}\`)`;
  if (!debianMirror()) return 'no Debian mirror in /etc/apt/sources.list(.d) to name the image by';
  const tag = imageTag(IMAGES[image]);
  if (!(await imageExists(tag))) return `image ${tag} is missing (run \`tornlab containers setup --images ${image}\`)`;
  return undefined;
}
