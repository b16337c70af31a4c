import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Media and ONNX tests spawn ffmpeg and run real inference: give them room on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/helpers/globalSetup.ts'],
    // Tests compare bytes across runs: pin the provider (auto would try WebGPU first where it is
    // bundled). The fallback tests name their providers explicitly.
    env: { RESHOOT_PROVIDER: 'cpu' },
  },
});
