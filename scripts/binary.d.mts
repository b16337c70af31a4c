/** Types for scripts/binary.mjs (build-time helpers, plain JS so webpack.config.js can load them). */
export function crc32(buf: Uint8Array, crc?: number): number;
export function png(width: number, height: number, pixel: (x: number, y: number) => number[]): Buffer;
export function icon(size: number, rgb: number[]): Buffer;
export function zip(entries: { name: string; data: Uint8Array }[]): Buffer;
