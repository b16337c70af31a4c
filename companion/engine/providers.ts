/**
 * Which ONNX Runtime execution providers to try, and in what order.
 *
 * `auto` tries the providers this build of onnxruntime-node can load, best first (CUDA when the
 * opt-in install put its libraries in place, DirectML on Windows, CoreML on macOS, WebGPU, then
 * CPU). A provider that fails to load a graph, or fails on its first run, hands over to the next
 * one with a message (see stages.ts); CPU is always last and always present, so a render never
 * fails just because a GPU provider is missing. `RESHOOT_PROVIDER` or `--provider` pick one
 * explicitly (still with CPU behind it).
 */
import * as ort from 'onnxruntime-node';

/** Providers in the order Reshoot prefers them; CPU always last and always present. */
export const PROVIDER_ORDER = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export type Provider = (typeof PROVIDER_ORDER)[number];
export type ProviderChoice = Provider | 'auto';

export const isProvider = (p: string): p is Provider => (PROVIDER_ORDER as readonly string[]).includes(p);

/** Providers this build of onnxruntime-node has the binaries for (not yet proof they work). */
export function bundledProviders(): Provider[] {
  const listed = new Set(
    (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] })
      .listSupportedBackends?.()
      .filter((b) => b.bundled)
      .map((b) => b.name) ?? ['cpu'],
  );
  return PROVIDER_ORDER.filter((p) => listed.has(p) || p === 'cpu');
}

/**
 * The providers to try for a choice. An explicit provider keeps CPU behind it; `auto` is every
 * bundled provider in preference order. With no choice, `RESHOOT_PROVIDER` decides, else auto.
 */
export function providersFor(choice: string | undefined = process.env.RESHOOT_PROVIDER || 'auto'): Provider[] {
  if (choice === 'auto') return bundledProviders();
  if (!isProvider(choice)) throw new Error(`unknown provider "${choice}" (one of auto, ${PROVIDER_ORDER.join(', ')})`);
  return choice === 'cpu' ? ['cpu'] : [choice, 'cpu'];
}

/** The session options every graph is opened with (the engine's stages and the benchmarks alike). */
export function sessionOptions(provider: Provider): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    // The CPU arena keeps every block it ever grew (by doubling) for the session's life: with
    // fused attention it doubled the activations' peak at the 2B shape (bench/attention.ts).
    enableCpuMemArena: false,
    // Reproducibility: same inputs → same bytes on the same provider.
    extra: { session: { use_deterministic_compute: '1' } },
  } as ort.InferenceSession.SessionOptions;
}

/**
 * What an error from opening or running a graph on `provider` means, in one line. ONNX Runtime's
 * messages carry its source path and the failed check ("…webgpu_context.cc:136 … was false.
 * Failed to get a WebGPU adapter: No supported adapters"); the reasons an editor can act on are
 * named here, anything else is ORT's first line without the source prefix.
 */
export function providerErrorReason(provider: Provider, e: unknown): string {
  const raw = e instanceof Error ? e.message : String(e);
  const first = raw.split('\n')[0]!;
  if (providerUnavailable(provider, e)) {
    return (
      'no WebGPU adapter: Dawn found no usable GPU driver (on Linux it needs libvulkan1 and a Vulkan 1.3 driver; ' +
      'a software one for tests: .ci/lavapipe.sh)'
    );
  }
  const notImplemented = /input `([^`]+)` not implemented for webgpu|Could not find an implementation for (\w+)/.exec(raw);
  if (notImplemented) return `${provider} has no kernel for ${notImplemented[1] ?? notImplemented[2]} (${first.replace(/^.*Status Message: /, '')})`;
  // "/onnxruntime_src/…/file.cc:123 function(…) cond was false. Message" → "Message"
  return first.replace(/^\/onnxruntime_src\/\S+:\d+ .*? was false\. /, '').replace(/^\[ONNXRuntimeError\] : \d+ : \w+ : /, '');
}

/**
 * Whether an error says the provider cannot run anything on this machine (no WebGPU adapter), as
 * opposed to failing one graph: then no other graph or compute type is tried on it.
 */
export function providerUnavailable(provider: Provider, e: unknown): boolean {
  const raw = e instanceof Error ? e.message : String(e);
  return provider === 'webgpu' && /Failed to get a WebGPU adapter|No supported adapters/i.test(raw);
}
