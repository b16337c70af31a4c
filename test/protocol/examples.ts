/** One valid spec per kind, as a user would write it (defaults omitted, rates as strings). */
const sequence = { fps: '24000/1001', width: 1920, height: 1080 };

export const examples = {
  extend: {
    kind: 'extend',
    prompt: 'the camera keeps drifting right',
    sequence,
    source: { path: '/media/shot010.mov', in: { seconds: 2 }, out: { frames: 120 } },
    extend: { direction: 'tail', duration: { seconds: 2 }, context: { frames: 25 } },
    output: { format: 'prores422hq' },
  },
  fill: {
    kind: 'fill',
    prompt: 'empty street',
    seed: 42,
    sequence,
    source: { path: 'C:\\Users\\ed\\Videos\\boom in shot.mp4' },
    mask: {
      type: 'shapes',
      shapes: [
        { kind: 'rectangle', feather: 8, keyframes: [{ frame: 0, x: 100, y: 40, width: 200, height: 120 }] },
        {
          kind: 'ellipse',
          mode: 'subtract',
          keyframes: [
            { frame: 0, cx: 200, cy: 100, rx: 20, ry: 10 },
            { frame: 24, cx: 260, cy: 100, rx: 20, ry: 10 },
          ],
        },
      ],
    },
  },
  replace: {
    kind: 'replace',
    prompt: 'a snowy mountain range behind the actor',
    sequence: { fps: 25, width: 3840, height: 2160 },
    source: { path: '/media/greenscreen.mov' },
    mask: { type: 'matte', path: '/media/plate_matte.mov', channel: 'alpha' },
    output: { format: 'prores4444', path: '/renders/plate.mov' },
  },
  generate: {
    kind: 'generate',
    prompt: 'aerial shot over a foggy forest at dawn',
    steps: 30,
    guidance: 3.5,
    sequence: { fps: 29.97, width: 1280, height: 720 },
    source: { path: '/stills/forest.png' },
    duration: { seconds: 4 },
    output: { format: 'h264' },
  },
  bridge: {
    kind: 'bridge',
    sequence: { fps: { num: 60000, den: 1001 }, width: 1920, height: 1080 },
    sources: { a: { path: '/media/a.mov', out: { frames: 300 } }, b: { path: '/media/b.mov', in: { frames: 12 } } },
    gap: { frames: 18 },
    conditioning: 'blend',
  },
} as const;
