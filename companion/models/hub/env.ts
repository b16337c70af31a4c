/**
 * Where the hub is and who we are to it, read the way Python's huggingface_hub reads them, so a
 * machine already set up for Python (a token from `huggingface-cli login`, HF_ENDPOINT pointing at
 * a mirror) works for `reshoot models pull` unchanged.
 *
 *   endpoint: HF_ENDPOINT, else https://huggingface.co
 *   token:    HF_TOKEN, else HUGGING_FACE_HUB_TOKEN (older name), else the file
 *             HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ReshootError } from '../../errors.ts';

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export function hubEndpoint(): string {
  return (process.env.HF_ENDPOINT || DEFAULT_HUB_URL).replace(/\/+$/, '');
}

export interface HubToken {
  value: string;
  /** Where it came from, for messages ("HF_TOKEN", "the token file ~/.cache/huggingface/token"). */
  source: string;
}

function tokenFile(): string {
  if (process.env.HF_TOKEN_PATH) return process.env.HF_TOKEN_PATH;
  const home = process.env.HF_HOME || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'huggingface');
  return join(home, 'token');
}

/** The token to send, or undefined for anonymous access. Rejects values that cannot be a token. */
export function hubToken(explicit?: string): HubToken | undefined {
  let found: HubToken | undefined;
  if (explicit) found = { value: explicit, source: 'the token given' };
  else if (process.env.HF_TOKEN) found = { value: process.env.HF_TOKEN, source: 'HF_TOKEN' };
  else if (process.env.HUGGING_FACE_HUB_TOKEN) found = { value: process.env.HUGGING_FACE_HUB_TOKEN, source: 'HUGGING_FACE_HUB_TOKEN' };
  else {
    const file = tokenFile();
    try {
      const value = readFileSync(file, 'utf8');
      if (value.trim()) found = { value, source: `the token file ${file}` };
    } catch {
      // no token file: anonymous
    }
  }
  if (!found) return undefined;
  const value = found.value.trim();
  // @huggingface/hub refuses anything else with a bare TypeError; say it in our words instead.
  if (!/^hf_\S+$/.test(value)) {
    throw new ReshootError('model', `${found.source} does not hold a Hugging Face access token (they look like hf_…); create one at https://huggingface.co/settings/tokens`);
  }
  return { value, source: found.source };
}
