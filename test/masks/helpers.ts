import type { Shape, ShapesMask } from '../../protocol/mask.ts';

type Key<K extends Shape['kind']> = Extract<Shape, { kind: K }>['keyframes'][number];

export function rect(keyframes: Key<'rectangle'>[], opts: Partial<Pick<Shape, 'mode' | 'feather'>> = {}): Shape {
  return { kind: 'rectangle', mode: 'add', feather: 0, ...opts, keyframes };
}
export function ellipse(keyframes: Key<'ellipse'>[], opts: Partial<Pick<Shape, 'mode' | 'feather'>> = {}): Shape {
  return { kind: 'ellipse', mode: 'add', feather: 0, ...opts, keyframes };
}
export function polygon(keyframes: Key<'polygon'>[], opts: Partial<Pick<Shape, 'mode' | 'feather'>> = {}): Shape {
  return { kind: 'polygon', mode: 'add', feather: 0, ...opts, keyframes };
}
export function shapes(list: Shape[], invert = false): ShapesMask {
  return { type: 'shapes', shapes: list, invert };
}

export function sum(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

export function count(a: Float32Array, pred: (v: number) => boolean): number {
  let n = 0;
  for (const v of a) if (pred(v)) n++;
  return n;
}
