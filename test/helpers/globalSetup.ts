/**
 * Removes the run's shared model cache (useTestModelCache in fixtures.ts) when the run ends, so
 * repeated runs do not pile up built models in the temp folder. Test workers are forked by this
 * process, so their parent pid is ours.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const cache = path.join(tmpdir(), `reshoot-test-models-${process.pid}`);
  return () => rmSync(cache, { recursive: true, force: true });
}
