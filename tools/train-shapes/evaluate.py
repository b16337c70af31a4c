"""
Quality of a builtin:shapes checkpoint in Python, on the held-out clips and windows of
test/quality/tasks.ts, each next to its baseline: the training code's own forward pass and a
plain Euler sampler with per-token conditioning (known tokens clean at t = 0), 16 linear steps
from σ = 1 (the model's default schedule, shift 1), and the context guidance of
models/shapes/sampling.json (what the engine runs; `--cg` changes it). It lays the windows out as the engine does:

  extend  clip frames 0–16 known, 17–28 generated in windows of 13 known and 4 new frames (the
          manifest's extendContext; render.ts chains them through 8-bit pixels); centroid error
          (px) over the 12 new frames vs hold-last
  fill    frames 0–16, a matte over shape 0's footprint grown by 2 px; the crop of render.ts
          (cropAround, snapped to the 8-px grid, so the model takes it unresized) and the token
          mask of a patch VAE (the cells the matte touches); PSNR inside the matte vs the clip
          without shape 0, next to the ring-mean fill
  bridge  frames 12–28: 12–16 known, 17–23 generated, clip B (24–28) appended as extra tokens the
          way the engine conditions it with per-token conditioning (engine/appended.ts; B's third
          latent frame known in the grid); with --bridge-in-grid 24–28 known in the grid instead
          (what evaluate.py did until session 7; the engine never does that with per-token
          conditioning); PSNR vs cross-fade

The patch (pixel frames per latent frame) is the weights' own: the vae.safetensors beside them.

It exists to tell a training gap from a train/inference mismatch (compare with
`npm run bench:quality`, which runs the same tasks through the engine), and to follow a training
run cheaply:

  /usr/bin/python3 tools/train-shapes/evaluate.py /tmp/shapes-run/transformer.safetensors [clips]
  /usr/bin/python3 tools/train-shapes/evaluate.py /tmp/shapes-run/transformer.safetensors 24 --x0   # one-step x0 error alone
  /usr/bin/python3 tools/train-shapes/evaluate.py /tmp/shapes-run/transformer.safetensors 24 --bridge-in-grid
  /usr/bin/python3 tools/train-shapes/evaluate.py /tmp/shapes-run/transformer.safetensors 24 --cg off   # or --cg 6@0.5
  /usr/bin/python3 tools/train-shapes/evaluate.py --roundtrip /tmp/shapes-run/vae.safetensors [clips]   # the VAE alone

The noise is numpy's, not the engine's, so single clips differ; means over clips compare.
"""
import json
import math
import os
import sys

# One BLAS thread, set before numpy loads OpenBLAS (train.py's reason): its idle threads spin, and beside a
# training run on a 2-core machine they cost twice the evaluation's own time in the kernel.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import shapes  # noqa: E402
import train  # noqa: E402

def pixel_weights():
    return (train.PIXEL_VARIANCE / train.PIXEL_VARIANCE.mean()).astype(np.float32)


def decode(tokens, f, h, w):
    """[f·h·w, 64] → uint8 [1 + T(f−1), 8h, 8w, 3] (the first group's last frame is frame 0)."""
    S, T = train.SPATIAL, train.TEMPORAL
    p = tokens @ train.VAE["decoder.weight"].T + train.VAE["decoder.bias"]
    x = p.reshape(f, h, w, 3, T, S, S).transpose(0, 4, 1, 5, 2, 6, 3).reshape(f * T, h * S, w * S, 3)
    x = x[T - 1:]
    return np.floor(np.clip((x + 1) * 127.5, 0, 255) + 0.5).astype(np.uint8)


SHIPPED_SAMPLING = os.path.join(os.path.dirname(__file__), "..", "..", "models", "shapes", "sampling.json")
# Context guidance as the engine runs builtin:shapes (models/shapes/sampling.json): (scale, min σ), or None.
CONTEXT_GUIDANCE = None


def use_sampling(arg):
    """`--cg off`, `--cg SCALE@MINSIGMA`, or absent: the shipped sampling.json."""
    global CONTEXT_GUIDANCE
    if arg == "off":
        CONTEXT_GUIDANCE = None
    elif arg:
        scale, min_sigma = arg.split("@")
        CONTEXT_GUIDANCE = (float(scale), float(min_sigma))
    else:
        with open(SHIPPED_SAMPLING) as f:
            cg = json.load(f)["contextGuidance"]
        CONTEXT_GUIDANCE = (cg["scale"], cg["minSigma"])


def sample(model, src_tokens, mask, grid, seed, steps=16, appended=None):
    """Euler, per-token: mask [S] 1 = generate. `appended`: (extra known tokens, their pixel frame offset),
    as engine/appended.ts puts a bridge's clip B in; they stay at t = 0 and are dropped. With context
    guidance (engine/guidance.ts addContextGuidance), steps at σ ≥ its min σ also run the generated
    tokens alone and take v_c + (scale − 1)·(v_c − v_nc)."""
    f, h, w = grid
    S, C = src_tokens.shape
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((S, C)).astype(np.float32)
    m = mask[:, None].astype(np.float32)
    x = m * noise + (1 - m) * src_tokens
    cos, sin = train.rope_tables(f, h, w, model.dim)
    mask = mask.astype(np.float32)
    if appended is not None:
        extra, at = appended
        cos_a, sin_a = train.rope_tables(len(extra) // (h * w), h, w, model.dim, frame_offset=at)
        cos, sin = torch.cat([cos, cos_a]), torch.cat([sin, sin_a])
        x = np.concatenate([x, extra])
        mask = np.concatenate([mask, np.zeros(len(extra), np.float32)])
    sig = [1 - i * (1 - 1 / steps) / (steps - 1) for i in range(steps)] + [0]
    xt = torch.from_numpy(x)[None]
    mt = torch.from_numpy(mask)[None]
    gen = mt[0] > 0
    with torch.no_grad():
        for i in range(steps):
            t = 1000 * sig[i] * mt
            v = model(xt, t, cos, sin)
            if CONTEXT_GUIDANCE and sig[i] >= CONTEXT_GUIDANCE[1] and not bool(gen.all()):
                alone = model(xt[:, gen], t[:, gen], cos[gen], sin[gen])
                v[:, gen] += (CONTEXT_GUIDANCE[0] - 1) * (v[:, gen] - alone)
            xt = xt + (sig[i + 1] - sig[i]) * v * mt[..., None]
    return xt[0, :S].numpy()


def encode_video(frames):
    f = 1 + (len(frames) - 1) // train.TEMPORAL
    H, W = frames.shape[1:3]
    return train.encode(train.patchify(frames)), (f, H // train.SPATIAL, W // train.SPATIAL)


def generated(grid, first, last=None):
    """Token mask [f·h·w] generating every latent frame that holds a pixel frame in first … last (default: to the end)."""
    m = np.zeros(grid, bool)
    m[train.latent_of(first):None if last is None else train.latent_of(last) + 1] = True
    return m.reshape(-1)


# ---------------------------------------------------------------- metrics (test/quality/metrics.ts)

def find_shape(frame, clean, colour):
    rgb = np.array(shapes.PALETTE[colour]) * 255
    fr = frame.astype(np.float64)
    to_shape = np.sqrt(((fr - rgb) ** 2).sum(-1))
    to_bg = np.sqrt(((fr - clean.astype(np.float64)) ** 2).sum(-1))
    ys, xs = np.nonzero((to_shape < 70) & (to_bg > 50))
    return (xs.mean() + 0.5, ys.mean() + 0.5) if len(xs) >= 4 else None


MISSING = math.hypot(64, 64) / 2


def centroid_error(frames, p, start):
    n = len(frames)
    clean = shapes.render(p, n, without=list(range(len(p["shapes"]))), start=start)
    tracks = [shapes.track(s, start + n, 64, 64)[start:] for s in p["shapes"]]
    errs = []
    for i in range(n):
        for j, s in enumerate(p["shapes"]):
            c = find_shape(frames[i], clean[i], s["colour"])
            errs.append(math.hypot(c[0] - tracks[j][i][0], c[1] - tracks[j][i][1]) if c else MISSING)
    return float(np.mean(errs))


def psnr(a, b, where=None):
    d = a.astype(np.float64) - b.astype(np.float64)
    if where is not None:
        d = d[where]
    return float(10 * math.log10(255 ** 2 / max((d ** 2).mean(), 1e-10)))


def dilate_px(m, r):
    out = m.copy()
    H, W = m.shape[-2:]
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            src = m[..., max(0, -dy):H - max(0, dy), max(0, -dx):W - max(0, dx)]
            out[..., max(0, dy):H - max(0, -dy), max(0, dx):W - max(0, -dx)] |= src
    return out


# ---------------------------------------------------------------- the crop of render.ts (plan.ts)

def js_round(x):
    """Math.round: halves go up (Python's round() takes them to even)."""
    return math.floor(x + 0.5)


def crop_around(x0, y0, x1, y1, W=64, H=64):
    """bbox inclusive-exclusive → region (x, y, w, h) with plan.ts's margin."""
    margin = max(16, js_round(0.25 * max(x1 - x0, y1 - y0)))
    a, b = max(0, x0 - margin), max(0, y0 - margin)
    c, d = min(W, x1 + margin), min(H, y1 + margin)
    return a, b, c - a, d - b


def snap_to_grid(x, y, w, h, multiple=8, W=64, H=64):
    """plan.ts snapToGrid: the crop grown to the multiple about its centre, within the frame. In the
    64 × 64 family every crop fits the model's 64 × 64 budget so, and goes to it unresized."""
    sw, sh = math.ceil(w / multiple) * multiple, math.ceil(h / multiple) * multiple
    at = lambda start, length, want, limit: min(max(0, start - (want - length) // 2), limit - want)
    return at(x, w, sw, W), at(y, h, sh, H), sw, sh


def token_mask(px_masks, f, h, w):
    """Pixel masks [F, h·8, w·8] → tokens [f·h·w] (latentTokenMask for a patch VAE: any pixel of the cell)."""
    return train.cells_of(px_masks).reshape(-1)


# ---------------------------------------------------------------- the tasks

def extend(model, seed):
    """Frames 0–16 known, 17–28 made as render.ts chains them: each window takes the last 13 frames
    (the source's, then what earlier windows made, as 8-bit pixels) and adds 4."""
    p = shapes.clip_params(seed)
    frames = list(shapes.render(p, 17))
    known = train.EXTEND_CONTEXT
    made = 0
    while made < 12:
        count = min(17 - known, 12 - made)
        window = np.stack(frames[-known:] + [frames[-1]] * (17 - known))
        src, grid = encode_video(window)
        out = decode(sample(model, src, generated(grid, known), grid, seed + 1000 * made), *grid)
        frames += list(out[known:known + count])
        made += count
    out = np.stack(frames[17:])
    held = np.repeat(frames[16][None], 12, 0)
    return centroid_error(out, p, 17), centroid_error(held, p, 17)


def fill(model, seed):
    p = shapes.clip_params(seed)
    frames = shapes.render(p, 17)
    truth = shapes.render(p, 17, without=[0])
    masks = dilate_px(shapes.footprints(p, 17)[0], 2)
    ys, xs = np.nonzero(masks.any(0))
    rx, ry, rw, rh = snap_to_grid(*crop_around(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    small = frames[:, ry:ry + rh, rx:rx + rw]
    src, grid = encode_video(small)
    tm = token_mask(masks[:, ry:ry + rh, rx:rx + rw], *grid)
    gen = decode(sample(model, src, tm, grid, seed), *grid)
    out = frames.copy()
    for i in range(17):
        region = out[i, ry:ry + rh, rx:rx + rw]
        inside = masks[i, ry:ry + rh, rx:rx + rw]
        region[inside] = gen[i][inside]
    # ring-mean baseline
    ring_out = frames.copy()
    for i in range(17):
        ring = dilate_px(masks[i], 2) & ~masks[i]
        ring_out[i][masks[i]] = np.floor(frames[i][ring].mean(0) + 0.5).astype(np.uint8)
    return psnr(out, truth, masks), psnr(ring_out, truth, masks)


def bridge(model, seed, in_grid=False):
    """Clip B (frames 24–28, window frames 12–16) appended as the engine does with per-token conditioning
    (train.appended_window), or with `in_grid` held in the grid as known latent frames."""
    p = shapes.clip_params(seed)
    window = shapes.render(p, 17, start=12)
    src, grid = encode_video(window)
    if in_grid:
        out = decode(sample(model, src, generated(grid, 5, 11), grid, seed), *grid)[5:12]
    else:
        src, mask, extra = train.appended_window(window, grid[0], train.latent_of(4) + 1, 12, 5)
        out = decode(sample(model, src, mask, grid, seed, appended=(extra, 12)), *grid)[5:12]
    truth = window[5:12]
    a, b = window[4].astype(np.float64), window[12].astype(np.float64)
    fade = np.stack([np.floor((1 - t) * a + t * b + 0.5) for t in (np.arange(1, 8) / 8)]).astype(np.uint8)
    return psnr(out, truth), psnr(fade, truth), centroid_error(out, p, 17), centroid_error(fade, p, 17)


def context_use(model, clips, sigma=0.9):
    """x0 error (latent MSE weighted by each channel's pixel variance) of the generated tokens of the extend window at σ, with the known
    frames as context and with none (generate): equal numbers mean the context is ignored."""
    out = []
    for known in (5, 0):
        errs = []
        for seed in clips:
            window = shapes.render(shapes.clip_params(seed), 17, start=12)
            src, grid = encode_video(window)
            m = generated(grid, known)
            eps = np.random.default_rng(seed).standard_normal(src.shape).astype(np.float32)
            x = np.where(m[:, None], (1 - sigma) * src + sigma * eps, src)
            cos, sin = train.rope_tables(*grid, model.dim)
            with torch.no_grad():
                v = model(torch.from_numpy(x)[None], torch.from_numpy(1000 * sigma * m.astype(np.float32))[None], cos, sin)[0].numpy()
            gen = generated(grid, 5)
            errs.append(((((x - sigma * v) - src)[gen] ** 2) * pixel_weights()).mean())
        out.append(float(np.mean(errs)))
    return out


def x0_references(clips):
    """The same error for two guesses without a model: the clean background with every shape erased, and the
    last known frame held. A model that moves the shapes scores below both; one that only continues the
    background scores about what erasing does."""
    out = []
    for guess in ("erased", "hold"):
        errs = []
        for seed in clips:
            p = shapes.clip_params(seed)
            window = shapes.render(p, 17, start=12)
            src, grid = encode_video(window)
            if guess == "erased":
                other = shapes.render(p, 17, start=12, without=list(range(len(p["shapes"]))))
            else:
                other = np.concatenate([window[:5], np.repeat(window[4:5], 12, 0)])
            gen = generated(grid, 5)
            errs.append((((encode_video(other)[0] - src)[gen] ** 2) * pixel_weights()).mean())
        out.append(float(np.mean(errs)))
    return out


def roundtrip(clips):
    """The VAE alone: encode and decode the true extend window; centroid error (px) over its 12 new frames, PSNR (dB) over all 17."""
    errs, dbs = [], []
    for seed in clips:
        p = shapes.clip_params(seed)
        window = shapes.render(p, 17, start=12)
        src, grid = encode_video(window)
        back = decode(src, *grid)
        errs.append(centroid_error(back[5:], p, 17))
        dbs.append(psnr(back, window))
    return float(np.mean(errs)), float(np.mean(dbs))


def main():
    torch.set_num_threads(1)
    if sys.argv[1] == "--roundtrip":  # evaluate.py --roundtrip vae.safetensors [clips]
        train.use_vae(sys.argv[2])
        n = int(sys.argv[3]) if len(sys.argv) > 3 else 6
        px, db = roundtrip(range(101, 101 + n))
        print(f"VAE round trip ({train.SPATIAL}×{train.SPATIAL} px × {train.TEMPORAL} frames), clips 101–{100 + n}: extend's new frames centroid {px:.2f} px, {db:.1f} dB")
        return
    model, meta = train.load_model(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 6
    use_sampling(sys.argv[sys.argv.index("--cg") + 1] if "--cg" in sys.argv else None)
    clips = range(101, 101 + n)
    if "--x0" in sys.argv:  # the one-step check alone (seconds): evaluate.py weights clips --x0
        ctx, none = context_use(model, clips)
        erased, hold = x0_references(clips)
        print(f"steps {meta.get('steps')}: x0 error at σ 0.9 on extend's new tokens {ctx:.3f} (no context {none:.3f}); "
              f"shapes erased {erased:.3f}, last frame held {hold:.3f}")
        return
    e = np.array([extend(model, s) for s in clips])
    f = np.array([fill(model, s) for s in clips])
    in_grid = "--bridge-in-grid" in sys.argv
    b = np.array([bridge(model, s, in_grid) for s in clips])
    cg = f"context guidance {CONTEXT_GUIDANCE[0]} at σ ≥ {CONTEXT_GUIDANCE[1]}" if CONTEXT_GUIDANCE else "no context guidance"
    print(f"weights: steps {meta.get('steps')} minutes {meta.get('minutes')}; clips {clips.start}–{clips.stop - 1}; {cg}")
    print(f"extend centroid px: model {e[:, 0].mean():.2f}  hold-last {e[:, 1].mean():.2f}  worst ratio {(e[:, 0] / e[:, 1]).max():.2f}")
    print(f"fill PSNR dB:       model {f[:, 0].mean():.2f}  ring-mean {f[:, 1].mean():.2f}  worst diff {(f[:, 0] - f[:, 1]).min():.2f}")
    ctx, none = context_use(model, clips)
    erased, hold = x0_references(clips)
    print(f"x0 error (pixel-weighted) at σ 0.9 on extend's new tokens: with context {ctx:.3f}, without {none:.3f}; "
          f"shapes erased {erased:.3f}, last frame held {hold:.3f}")
    print(f"bridge{' (B in the grid)' if in_grid else ' (B appended)'} PSNR dB: model {b[:, 0].mean():.2f}  cross-fade {b[:, 1].mean():.2f}  worst diff {(b[:, 0] - b[:, 1]).min():.2f}; centroid px {b[:, 2].mean():.2f} vs {b[:, 3].mean():.2f}")


if __name__ == "__main__":
    main()
