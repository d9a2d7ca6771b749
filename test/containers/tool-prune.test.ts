import { TOOL_IMAGE_MIN_AGE_MS, toolImagesToPrune } from '../../src/export/containers/tool-image';

/** Old tool images are pruned (src/export/containers/tool-image.ts invariant 2): bounded disk, never a fresh one. */
describe('which tool images are removed after a build', () => {
  const h = 3600_000;
  const now = Date.parse('2026-12-03T12:00:00Z');
  const img = (ref: string, hoursAgo: number) => ({ ref: `tornlab/tool:${ref}`, createdMs: now - hoursAgo * h });

  test('the current one and the two newest others stay; older ones past the minimum age go', () => {
    const images = [img('cur', 0), img('a', 1), img('b', 7), img('c', 8), img('d', 30)];
    expect(toolImagesToPrune(images, 'tornlab/tool:cur', now)).toEqual(['tornlab/tool:c', 'tornlab/tool:d']);
  });

  test('an image younger than the minimum age stays, however many there are (another clone may be about to run it)', () => {
    const images = [img('cur', 0), img('a', 1), img('b', 2), img('c', 3), img('d', 5)];
    expect(TOOL_IMAGE_MIN_AGE_MS).toBe(6 * h);
    expect(toolImagesToPrune(images, 'tornlab/tool:cur', now)).toEqual([]);
  });

  test('the current image is never removed, even when it is the oldest', () => {
    const images = [img('cur', 50), img('a', 40), img('b', 30), img('c', 20)];
    expect(toolImagesToPrune(images, 'tornlab/tool:cur', now)).toEqual(['tornlab/tool:a']);
  });
});
