/**
 * WebGPU test suites on a software Vulkan (softwareVulkan.ts).
 *
 * Locally, without the driver, WebGPU tests skip and say how to get it. In CI (.ci/run exports
 * RESHOOT_REQUIRE_WEBGPU=1) a missing driver fails them instead, so they cannot rot unseen.
 */
import { describe, it } from 'vitest';
import { useSoftwareWebGpu } from './softwareVulkan.ts';

export { lavapipeDir, useSoftwareWebGpu } from './softwareVulkan.ts';

/**
 * `describe` for WebGPU suites: runs them on lavapipe when it is there; otherwise skips them with
 * the reason, or, under RESHOOT_REQUIRE_WEBGPU=1 (CI), runs one test that fails with it.
 */
export function describeWebGpu(name: string, body: () => void): void {
  const sw = useSoftwareWebGpu();
  if (!sw.missing) {
    describe(name, body);
  } else if (process.env.RESHOOT_REQUIRE_WEBGPU === '1') {
    describe(name, () => {
      it('has a software WebGPU (RESHOOT_REQUIRE_WEBGPU=1)', () => {
        throw new Error(sw.missing!);
      });
    });
  } else {
    console.warn(`skipping "${name}": ${sw.missing}`);
    describe.skip(name, body);
  }
}
