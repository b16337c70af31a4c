/**
 * WebGPU without a GPU, for tests and benches: onnxruntime-node's WebGPU provider (Dawn) on Mesa's
 * lavapipe, a Vulkan driver that runs on the CPU, unpacked by .ci/lavapipe.sh into a cache folder.
 * Dawn reads VK_ICD_FILENAMES when the provider first asks for an adapter, so setting it in this
 * process before the first WebGPU session is enough (the driver's ICD file names its library by
 * absolute path; no LD_LIBRARY_PATH needed). No vitest here: benches import it too.
 */
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';

export interface SoftwareWebGpu {
  /** The ICD file in use, or null when none was found. */
  icd: string | null;
  /** Why WebGPU tests cannot run here (null when they can). */
  missing: string | null;
}

/** Where .ci/lavapipe.sh puts the driver by default (RESHOOT_LAVAPIPE_DIR overrides). */
export function lavapipeDir(): string {
  return process.env.RESHOOT_LAVAPIPE_DIR || path.join(homedir(), '.cache', 'reshoot-lavapipe');
}

/** Points this process's Vulkan loader at lavapipe (unless VK_ICD_FILENAMES already names a driver). */
export function useSoftwareWebGpu(): SoftwareWebGpu {
  // A driver named by the caller wins (VK_DRIVER_FILES is the loader's newer name for the same).
  const given = process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES;
  if (given) return given.split(':').every((f) => existsSync(f)) ? { icd: given, missing: null } : { icd: null, missing: `VK_DRIVER_FILES / VK_ICD_FILENAMES name ${given}, which does not exist` };
  const icd = path.join(lavapipeDir(), 'lvp_icd.json');
  if (!existsSync(icd)) return { icd: null, missing: `no software Vulkan driver at ${icd}: run \`bash .ci/lavapipe.sh\` (as root; fetches Debian bookworm-backports' lavapipe)` };
  process.env.VK_ICD_FILENAMES = icd;
  // The driver's window-system code complains once per process without it; nothing is drawn.
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  return { icd, missing: null };
}

