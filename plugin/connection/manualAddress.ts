/**
 * The manual companion address and token (the settings' fallback when the connection file cannot
 * be read). The address is plain panel data (localStorage); the token is a secret and goes to
 * UXP's `storage.secureStorage` (encrypted under the user's account), never to localStorage.
 * Outside UXP (the browser harness) the token lasts for the page's life only.
 */
import { decodeUtf8 } from './utf8.ts';
import type { ManualAddress } from './client.ts';

/** UXP's secureStorage, the part used here (getItem resolves with bytes). */
export interface SecureStorage {
  getItem(key: string): Promise<Uint8Array | ArrayBuffer | string | null | undefined>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

export interface PlainStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const ADDRESS_KEY = 'reshoot.companionAddress';
const TOKEN_KEY = 'reshoot.companionToken';
/** Where an older panel kept address and token together in localStorage: moved on first read. */
const OLD_KEY = 'reshoot.manualAddress';

declare const __non_webpack_require__: ((id: string) => unknown) | undefined;

/** UXP's secureStorage when running in UXP, else a map for this page's life. */
export function defaultSecureStorage(): SecureStorage {
  try {
    if (typeof __non_webpack_require__ === 'function') {
      const s = (__non_webpack_require__('uxp') as { storage?: { secureStorage?: SecureStorage } }).storage?.secureStorage;
      if (s) return s;
    }
  } catch {
    /* not UXP */
  }
  const map = new Map<string, string>();
  return {
    getItem: async (k) => map.get(k) ?? null,
    setItem: async (k, v) => void map.set(k, v),
    removeItem: async (k) => void map.delete(k),
  };
}

function asText(v: Uint8Array | ArrayBuffer | string | null | undefined): string {
  if (v == null) return '';
  if (typeof v === 'string') return v;
  return decodeUtf8(v instanceof Uint8Array ? v : new Uint8Array(v));
}

export class ManualAddressStore {
  constructor(
    private readonly secure: SecureStorage = defaultSecureStorage(),
    private readonly plain: PlainStorage | null = (globalThis as { localStorage?: PlainStorage }).localStorage ?? null,
  ) {}

  async load(): Promise<ManualAddress | null> {
    await this.migrate();
    const address = this.plainGet(ADDRESS_KEY);
    if (!address) return null;
    let token = '';
    try {
      token = asText(await this.secure.getItem(TOKEN_KEY));
    } catch {
      /* secure storage lost (see Adobe's caveats): the editor enters the token again */
    }
    return { address, token };
  }

  async save(v: ManualAddress | null): Promise<void> {
    if (!v || !v.address.trim()) {
      this.plainRemove(ADDRESS_KEY);
      await this.secure.removeItem(TOKEN_KEY).catch(() => undefined);
      return;
    }
    this.plainSet(ADDRESS_KEY, v.address.trim());
    if (v.token.trim()) await this.secure.setItem(TOKEN_KEY, v.token.trim());
    else await this.secure.removeItem(TOKEN_KEY).catch(() => undefined);
  }

  /** An address + token saved by an older panel in localStorage: the token moves to secure storage. */
  private async migrate(): Promise<void> {
    const raw = this.plainGet(OLD_KEY);
    if (!raw) return;
    this.plainRemove(OLD_KEY);
    try {
      const v = JSON.parse(raw) as Partial<ManualAddress>;
      if (typeof v.address === 'string' && typeof v.token === 'string') await this.save({ address: v.address, token: v.token });
    } catch {
      /* unreadable: dropped */
    }
  }

  private plainGet(k: string): string | null {
    try {
      return this.plain?.getItem(k) ?? null;
    } catch {
      return null;
    }
  }
  private plainSet(k: string, v: string): void {
    try {
      this.plain?.setItem(k, v);
    } catch {
      /* no storage: lasts this session */
    }
  }
  private plainRemove(k: string): void {
    try {
      this.plain?.removeItem(k);
    } catch {
      /* no storage */
    }
  }
}
