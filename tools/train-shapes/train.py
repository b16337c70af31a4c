"""
Trains `builtin:shapes`: a small LTX-Video transformer on the synthetic shapes family
(shapes.py), with the rectified-flow objective, over exactly what Reshoot's engine feeds it:

  - latents are the patch "VAE" of the test models (companion/models/patchVae.ts: 8×8 px × T
    frames per cell, 3·T·64 values (rgb, dt, dy, dx), the first frame repeated to fill its group)
    followed by the linear encoder of a vae.safetensors made by pca.py (--vae; default the shipped
    one): 64 channels. T is that file's metadata "temporal" (1, 2 or 4), and everything below
    (token grid, RoPE times, masks, window lengths) follows from it;
  - tokens in (f, h, w) order with LTX RoPE (causal frame coordinates, 24 fps) as
    companion/models/ltxv/rope.ts computes them;
  - per-token timesteps σ·1000 with known tokens clean at t = 0 (the engine's default), and
    one σ for all tokens (what latent blending sees);
  - conditioning masks for every kind: generate, first frame, extend (known prefix), head
    extension (known suffix), bridge (both ends), fill (a mask over moving shapes or a box, where
    the truth is the clip with every fully covered shape removed), on random crops and lengths
    like the engine's windows; and (--tasks bridge-append=…) bridges laid out as the engine
    conditions them with per-token conditioning: clip B's head encoded on its own and appended
    as extra known tokens at its place in time (engine/appended.ts; appended_window).

Run (glibc's malloc settings stop torch's large temporaries from being mapped and unmapped on
every op, which otherwise costs more than the arithmetic here):

  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=100000000000 MALLOC_TOP_PAD_=268435456 \
    nice -n 5 /usr/bin/python3 tools/train-shapes/train.py --minutes 120 --out /tmp/shapes-run

The loss is weighted per latent channel by what the channel is worth in pixels (--pixel-weight)
and per token towards tokens a shape touches (--shape-weight); models/shapes/README.md says why,
and how the shipped weights were made (a resumed run whose recipe changed on the way).

The model's shape is on the command line (--heads, --layers; config.json is written beside the
weights); --init grows a trained model into a deeper one (extra blocks start as the identity), and
--device cuda --workers N run it on a GPU with the data made by N processes (gpu.sh is the shipped
recipe that way; models/shapes/README.md has the history). --restart-from CKPT continues a finished
run with a new schedule (a warm restart: --warmup steps up to --lr, then the cosine over --minutes
from there).

The budget is wall time (the learning rate follows a cosine over it), so how many steps it gets
depends on the machine and its load; the step count is written into the weights' metadata. It
writes a checkpoint (ckpt.pt, resumed from if present) and the exported EMA weights
(transformer.safetensors, fp16, diffusers names) every 5 minutes (--save-every) and at the end. Then:

  cp /tmp/shapes-run/{config.json,transformer.safetensors,vae.safetensors} models/shapes/
  /usr/bin/python3 tools/train-shapes/reference.py models/shapes > test/quality/fixtures/shapes-reference.json

Reproducible from --seed given the same number of steps (float summation order aside).
"""
import argparse
import collections
import json
import math
import multiprocessing
import os
import shutil
import struct
import sys
import time

# One BLAS thread: numpy's small matmuls (the patch encoder) otherwise spin a second thread
# that, on a loaded 2-core machine, cost more than the training step itself.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import shapes  # noqa: E402
from model import LtxTransformer  # noqa: E402

SHIPPED_VAE = os.path.join(os.path.dirname(__file__), "..", "..", "models", "shapes", "vae.safetensors")
SIZE, FRAMES = 64, 17
FPS = 24
CONFIG = dict(heads=2, head_dim=64, layers=4, caption_channels=32)
ROPE = dict(base_num_frames=20, base_height=2048, base_width=2048, theta=10000.0)
TRAIN_SEED_BASE = 1_000_000  # held-out clips (tests, demo) use seeds below this
SHAPE_WEIGHT = 2.0  # extra loss weight of tokens a shape touches (set by --shape-weight)


# ---------------------------------------------------------------- layout (patchVae.ts, rope.ts)

def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = {"F16": np.float16, "F32": np.float32}[info["dtype"]]
        out[name] = np.frombuffer(data[a:b], dt).astype(np.float32).reshape(info["shape"])
    return out, header.get("__metadata__", {})


def set_patch(spatial, temporal):
    """The patch of a latent cell: spatial × spatial px × temporal frames (the first frame alone, repeated)."""
    global SPATIAL, TEMPORAL, PATCH
    if (FRAMES - 1) % temporal or SIZE % spatial:
        raise SystemExit(f"a {spatial}×{spatial}×{temporal} patch does not tile {FRAMES} frames of {SIZE}×{SIZE} px")
    SPATIAL, TEMPORAL = spatial, temporal
    PATCH = 3 * TEMPORAL * SPATIAL * SPATIAL  # values per cell after patchify


def use_vae(path):
    """Makes the VAE at `path` (pca.py's output) the one every function here encodes with; its metadata
    names the patch (8×8 px × `temporal` frames per latent cell), which fixes the token layout and RoPE."""
    global VAE, CHANNELS, PIXEL_VARIANCE
    VAE, meta = read_safetensors(path)
    if "temporal" not in meta or "spatial" not in meta:
        raise SystemExit(f"{path}: metadata lacks the patch spec (spatial, temporal); write it with pca.py")
    set_patch(int(meta["spatial"]), int(meta["temporal"]))
    CHANNELS = VAE["encoder.weight"].shape[0]
    if VAE["encoder.weight"].shape[1] != PATCH:
        raise SystemExit(f"{path}: encoder.weight is {list(VAE['encoder.weight'].shape)}, the patch {SPATIAL}×{SPATIAL}×{TEMPORAL} has {PATCH} values")
    # What each latent channel is worth in pixels: the channels are PCA directions scaled to unit
    # variance, so a channel's share of the pixel error is its decoder column's squared norm (its
    # variance in the data). The top three (a cell's mean colour) carry ~88 % of the pixel variance but are
    # 3 of 64 equal terms in a plain latent MSE, which a first run spent on unpredictable detail.
    PIXEL_VARIANCE = (VAE["decoder.weight"].astype(np.float64) ** 2).sum(0)


use_vae(SHIPPED_VAE)


def channel_weights(pixel_share):
    """Per-channel loss weights, mean 1: `pixel_share` of pixel-space MSE, the rest plain latent MSE."""
    w = pixel_share * PIXEL_VARIANCE / PIXEL_VARIANCE.mean() + (1 - pixel_share)
    return torch.from_numpy(w.astype(np.float32))


def encode(patches):
    """[N, PATCH] patch values → [N, 64] latents (the vae_encoder graph's arithmetic)."""
    return patches @ VAE["encoder.weight"].T + VAE["encoder.bias"]


def patchify(video):
    """uint8 [F, H, W, 3] (F = 1 + TEMPORAL·k) → patch values float32 [f·h·w, PATCH] in [-1, 1]."""
    x = video.astype(np.float32) / 127.5 - 1
    x = np.concatenate([x[:1]] * (TEMPORAL - 1) + [x], 0)  # first frame fills its group
    T, H, W, _ = x.shape
    f, h, w = T // TEMPORAL, H // SPATIAL, W // SPATIAL
    x = x.reshape(f, TEMPORAL, h, SPATIAL, w, SPATIAL, 3)
    x = x.transpose(0, 2, 4, 6, 1, 3, 5)  # f, h, w, rgb, dt, dy, dx
    return x.reshape(f * h * w, PATCH)


def rope_tables(f, h, w, dim, fps=FPS, frame_offset=0):
    """LTX RoPE of an f × h × w token grid; `frame_offset` pixel frames are added to every token's time
    (appended conditioning sits where its frames are in the window: rope.ts frameOffset)."""
    n = dim // 6
    pad = dim % 6
    step = np.float32(1 / (n - 1))
    lin = [np.float32(k * step) if k < n // 2 else np.float32(1 - np.float32((n - 1 - k) * step)) for k in range(n)]
    freqs = np.array([np.float32(np.float32(np.float32(ROPE["theta"] ** float(e)) * np.float32(math.pi)) / 2) for e in lin], np.float32)
    ff, hh, ww = np.meshgrid(np.arange(f), np.arange(h), np.arange(w), indexing="ij")
    time_ = (np.maximum(0, ff * TEMPORAL + 1 - TEMPORAL) + frame_offset).astype(np.float32) * np.float32(1 / fps)
    grid = np.stack([
        time_ / np.float32(ROPE["base_num_frames"]),
        (hh * SPATIAL).astype(np.float32) / np.float32(ROPE["base_height"]),
        (ww * SPATIAL).astype(np.float32) / np.float32(ROPE["base_width"]),
    ], -1).reshape(-1, 3).astype(np.float32)
    angles = freqs[None, :, None] * (2 * grid[:, None, :] - 1)  # [S, n, 3]
    angles = angles.reshape(len(grid), -1)
    cos = np.repeat(np.cos(angles), 2, -1)
    sin = np.repeat(np.sin(angles), 2, -1)
    cos = np.concatenate([np.ones((len(grid), pad), np.float32), cos], -1)
    sin = np.concatenate([np.zeros((len(grid), pad), np.float32), sin], -1)
    return torch.from_numpy(cos.astype(np.float32)), torch.from_numpy(sin.astype(np.float32))


# ---------------------------------------------------------------- masks for every kind

def latent_of(i):
    return 0 if i == 0 else (i - 1) // TEMPORAL + 1


def cells_of(px):
    """bool pixel masks [F, H, W] → token hits [f, h, w] (any pixel of any frame of the group): a fill's
    token mask as latentTokenMask makes it for a patch VAE, whose decoder reaches no pixel outside its
    own cell (until session 7 the engine and this tool grew it by one cell, as for LTX's VAE)."""
    F_, H, W = px.shape
    f = latent_of(F_ - 1) + 1
    hits = np.zeros((f, H // SPATIAL, W // SPATIAL), bool)
    cell = px.reshape(F_, H // SPATIAL, SPATIAL, W // SPATIAL, SPATIAL).any((2, 4))
    for i in range(F_):
        hits[latent_of(i)] |= cell[i]
    return hits


def pixels_of(tokens, frames):
    """Token mask [f, h, w] → pixel mask [F, H, W]."""
    idx = [latent_of(i) for i in range(frames)]
    return np.repeat(np.repeat(tokens[idx], SPATIAL, 1), SPATIAL, 2)


# How often each kind of window is drawn. Weighted to the kinds that need the context (what the
# editor's extend, fill and bridge do); generating from nothing is learnt from the others' noise.
# "bridge-append" is a bridge laid out as the engine conditions it with per-token conditioning
# (appended_bridge_batch); a batch is all of that kind or none of it (its tokens and RoPE differ).
TASKS = {"generate": 0.03, "image": 0.05, "extend": 0.30, "head": 0.10, "bridge": 0.20,
         "fill-track": 0.24, "fill-box": 0.08, "bridge-append": 0.0}
GRID_TASKS = [k for k in TASKS if k != "bridge-append"]


def shape_cells(p, frames, start):
    """Token cells [f, 8, 8] that any shape of the clip touches (its box grown by a pixel) in any frame of the group."""
    g = SIZE // SPATIAL
    f = latent_of(frames - 1) + 1
    out = np.zeros((f, g, g), bool)
    for s in p["shapes"]:
        r = s["radius"] + 1
        for i, (cx, cy) in enumerate(shapes.track(s, start + frames, SIZE, SIZE)[start:]):
            y0, y1 = max(0, int((cy - r) // SPATIAL)), min(g - 1, int((cy + r) // SPATIAL))
            x0, x1 = max(0, int((cx - r) // SPATIAL)), min(g - 1, int((cx + r) // SPATIAL))
            out[latent_of(i), y0:y1 + 1, x0:x1 + 1] = True
    return out


# builtin:shapes extends from this many known frames a window (its manifest's extendContext,
# companion/models/shapes.ts): half of the extension windows with room for it take that layout
# (as many new latent frames as a full window of it has), the rest any split.
EXTEND_CONTEXT = 13


def new_latents(rng, f):
    """Where an extension window's known latent frames end (its first generated one)."""
    new = latent_of(FRAMES - 1) - latent_of(EXTEND_CONTEXT - 1)
    if f > new + 1 and rng.random() < 0.5:
        return f - new
    return int(rng.integers(1, f))


def sample_task(rng, f):
    """A kind of window and its token mask over the full 8×8 grid (1 = generate)."""
    g = SIZE // SPATIAL
    m = np.zeros((f, g, g), bool)
    shares = np.array([TASKS[k] for k in GRID_TASKS])
    kind = GRID_TASKS[rng.choice(len(GRID_TASKS), p=shares / shares.sum())]
    if kind in ("bridge",) and f < 3:
        kind = "extend"
    if kind == "generate":
        m[:] = True
    elif kind == "image":
        m[1:] = True
    elif kind == "extend":
        m[new_latents(rng, f):] = True
    elif kind == "head":
        m[:f - new_latents(rng, f)] = True
    elif kind == "bridge":
        a = rng.integers(1, f - 1)
        b = rng.integers(a + 1, f)
        m[a:b] = True
        # A window rounded up to 1 + T·k ends in unknown padding frames after clip B's head.
        if b < f - 1 and rng.random() < 0.3:
            m[rng.integers(b + 1, f):] = True
    return kind, m


def crop_region(cy, cx, crop):
    """The pixel rows and columns of a crop × crop cell window whose top-left cell is (cy, cx)."""
    return range(cy * SPATIAL, (cy + crop) * SPATIAL), range(cx * SPATIAL, (cx + crop) * SPATIAL)


def make_example(rng, f, crop):
    """One training window: (source tokens, target tokens, token mask) on an f × crop × crop grid."""
    frames = 1 + TEMPORAL * (f - 1)
    p = shapes.clip_params(int(rng.integers(TRAIN_SEED_BASE, 2**31)), SIZE, SIZE)
    start = int(rng.integers(0, 24))
    kind, m = sample_task(rng, f)
    gone = []
    g = SIZE // SPATIAL
    if kind.startswith("fill"):
        fp = shapes.footprints(p, frames, start=start)
        chosen = [j for j in range(len(p["shapes"])) if rng.random() < 0.6] or [int(rng.integers(len(p["shapes"])))]
        if kind == "fill-track":
            hits = cells_of(fp[chosen].any(0))
            if rng.random() < 0.4:  # a still mask over the whole path
                hits[:] = hits.any(0)
        else:
            y0, x0 = rng.integers(0, g - 1, 2)
            y1, x1 = y0 + rng.integers(1, g - y0 + 1), x0 + rng.integers(1, g - x0 + 1)
            hits = np.zeros_like(m)
            hits[:, y0:y1, x0:x1] = True
        m = hits
        # The truth removes every shape the mask covers in every frame (an editor's "remove").
        px = pixels_of(m, frames)
        gone = [j for j in range(len(p["shapes"])) if not (fp[j] & ~px).any()]
        # Crop around the mask with two cells of context, like cropAround's 16 px.
        ys, xs = np.nonzero(m.any(0))
        cy = int(np.clip(rng.integers(ys.min() - 2, ys.max() + 3) - crop // 2, 0, g - crop))
        cx = int(np.clip(rng.integers(xs.min() - 2, xs.max() + 3) - crop // 2, 0, g - crop))
    else:
        cy, cx = (int(v) for v in rng.integers(0, g - crop + 1, 2))
    # Render and patchify only the crop (it is cell-aligned, so this equals cropping the patches); the
    # renders are most of the time a window takes.
    videos = shapes.render_each(p, frames, [(), gone] if gone else [()], start, crop_region(cy, cx, crop))
    src = encode(patchify(videos[0]))
    tgt = encode(patchify(videos[1])) if gone else src
    mask = m[:, cy:cy + crop, cx:cx + crop].reshape(-1)
    if not mask.any():
        mask[:] = True
    # Shapes are a small part of each window but all of what extend and bridge are judged on.
    weight = 1 + SHAPE_WEIGHT * shape_cells(p, frames, start)[:, cy:cy + crop, cx:cx + crop].reshape(-1)
    return src, tgt, mask.astype(np.float32), weight.astype(np.float32)


def appended_layout(rng, f):
    """Where a bridge's clip B sits in an f-latent window when it is appended (engine/appended.ts via
    render.ts suffixConditioning): (known latents of clip A, B's first pixel frame `at`, B's frame count).
    B is a sequence of 1 + T·k frames starting on a multiple of T (its first two latent frames appended,
    the rest known in the grid) or, 20 % of the time, a lone keyframe anywhere after a gap."""
    frames = 1 + TEMPORAL * (f - 1)
    a = int(rng.integers(1, f - 1))  # clip A: latent frames 0 … a−1, pixel frames 0 … T(a−1)
    if rng.random() < 0.8:
        j = int(rng.integers(a, f - 1))  # B starts at pixel frame T·j, the last frame of latent j's group
        most = f - 1 - j
        k = most if rng.random() < 0.7 else int(rng.integers(1, most + 1))  # else unknown padding after B
        return a, TEMPORAL * j, 1 + TEMPORAL * k
    return a, int(rng.integers(TEMPORAL * (a - 1) + 2, frames)), 1


def appended_window(video, f, a, at, n):
    """The engine's token layout of a bridge window whose clip B is appended (engine/appended.ts):
    video [1 + T(f−1), H, W, 3] is the true clip over the window → (grid tokens, grid mask [f·h·w],
    1 = generate, appended tokens). Clip A's latents 0 … a−1 are known and everything after them
    generated, except B's latent frames past the appended ones (their groups line up with the grid's,
    so their values are the grid's own); B's n frames from pixel frame `at` are encoded on their own,
    as a clip's start, and its first APPENDED_LATENTS latent frames are the appended tokens."""
    src = encode(patchify(video))
    h, w = video.shape[1] // SPATIAL, video.shape[2] // SPATIAL
    m = np.zeros((f, h, w), bool)
    m[a:] = True
    b_latents = 1 + (n - 1) // TEMPORAL
    j = latent_of(at)
    m[j + APPENDED_LATENTS:j + b_latents] = False
    own = encode(patchify(video[at:at + n]))
    return src, m.reshape(-1), own[:min(b_latents, APPENDED_LATENTS) * h * w]


def appended_example(rng, f, crop, a, at, n):
    """One appended-bridge training window on a random clip and crop: (grid source, grid target,
    grid mask, grid weight, appended tokens); the target is the clip itself."""
    frames = 1 + TEMPORAL * (f - 1)
    p = shapes.clip_params(int(rng.integers(TRAIN_SEED_BASE, 2**31)), SIZE, SIZE)
    start = int(rng.integers(0, 24))
    g = SIZE // SPATIAL
    cy, cx = (int(v) for v in rng.integers(0, g - crop + 1, 2))
    src, m, extra = appended_window(shapes.render(p, frames, start=start, region=crop_region(cy, cx, crop)), f, a, at, n)
    weight = 1 + SHAPE_WEIGHT * shape_cells(p, frames, start)[:, cy:cy + crop, cx:cx + crop].reshape(-1)
    return src, src, m.astype(np.float32), weight.astype(np.float32), extra


APPENDED_LATENTS = 2  # latent frames of a multi-frame item that go in as extra tokens (appended.ts PREFIX_LATENT_FRAMES)


def make_batch(rng, batch):
    # Full windows half the time; shorter and cropped ones (the engine's fills and last windows)
    # the rest, which are also cheaper: RoPE is relative, so what is learnt on crops carries over.
    # In pixel frames: 17 half the time, else 5 to 13 (whatever the patch, the same stretch of a clip).
    f_max = 1 + (FRAMES - 1) // TEMPORAL
    f = f_max if rng.random() < 0.5 else int(rng.integers(1 + 4 // TEMPORAL, f_max))
    crop = 8 if rng.random() < 0.4 else int(rng.integers(4, 8))
    if f >= 3 and rng.random() < TASKS["bridge-append"] / sum(TASKS.values()):
        # One layout for the whole batch: the appended tokens' count and RoPE must be the same in every row.
        layout = appended_layout(rng, f)
        ex = [appended_example(rng, f, crop, *layout) for _ in range(batch)]
        src, tgt, mask, weight, extra = (torch.from_numpy(np.stack(v)) for v in zip(*ex))
        return src, tgt, mask, weight, (f, crop, crop), (extra, layout[1])
    ex = [make_example(rng, f, crop) for _ in range(batch)]
    src, tgt, mask, weight = (torch.from_numpy(np.stack(v)) for v in zip(*ex))
    return src, tgt, mask, weight, (f, crop, crop), None


def numbered_batch(seed, index, batch):
    """Batch number `index` of a run: its own random stream, so it is the same whichever process makes it."""
    return make_batch(np.random.default_rng([seed, index]), batch)


def numbered_arrays(seed, index, batch):
    """numbered_batch as numpy arrays, which a worker hands back as plain pickled bytes (torch would pass
    its tensors as shared-memory file descriptors, one more thing for a sandboxed machine to refuse)."""
    src, tgt, mask, weight, grid, appended = numbered_batch(seed, index, batch)
    extra = None if appended is None else (appended[0].numpy(), appended[1])
    return src.numpy(), tgt.numpy(), mask.numpy(), weight.numpy(), grid, extra


def as_tensors(arrays):
    src, tgt, mask, weight, grid, extra = arrays
    appended = None if extra is None else (torch.from_numpy(extra[0]), extra[1])
    return torch.from_numpy(src), torch.from_numpy(tgt), torch.from_numpy(mask), torch.from_numpy(weight), grid, appended


class Batches:
    """Training batches in order from `start`, made `workers` processes ahead (0: in this process).
    The data is numpy on the CPU, about 180 windows a second a core of the 2-core machine (session 12;
    half that before the renders were cut to the crop): plenty for a CPU step, and on a GPU each
    worker adds that much (`--bench` says whether the data or the GPU sets the pace)."""

    def __init__(self, seed, batch, start, workers):
        self.args = (seed, batch)
        self.index = start
        self.pool = multiprocessing.get_context("fork").Pool(workers) if workers else None
        self.ahead = collections.deque()

    def next(self):
        if self.pool is None:
            self.index += 1
            return numbered_batch(self.args[0], self.index - 1, self.args[1])
        while len(self.ahead) < 2 * self.pool._processes:
            self.ahead.append(self.pool.apply_async(numbered_arrays, (self.args[0], self.index, self.args[1])))
            self.index += 1
        return as_tensors(self.ahead.popleft().get())


def sample_sigma(rng, n, shift=1.0):
    """Half uniform, half logit-normal, then shifted towards noise (σ' = sσ / (1 + (s − 1)σ)):
    the high σ are where a window's context decides what the generated tokens become."""
    u = rng.random(n)
    logit = 1 / (1 + np.exp(-rng.normal(0, 1, n)))
    s = np.where(rng.random(n) < 0.5, u, logit)
    s = shift * s / (1 + (shift - 1) * s)
    return s.clip(1e-3, 1).astype(np.float32)


# ---------------------------------------------------------------- export (safetensors, diffusers names)

def write_safetensors(path, tensors, metadata, dtype="F16"):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().to(torch.float16 if dtype == "F16" else torch.float32).contiguous().numpy()
        b = t.tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def build_model(config):
    return LtxTransformer(CHANNELS, config["heads"], config["head_dim"], config["layers"], config["caption_channels"])


def load_model(path):
    """An exported transformer.safetensors → (model in eval mode, metadata); its shape comes from the metadata's config,
    and the vae.safetensors beside it becomes the VAE (use_vae)."""
    use_vae(os.path.join(os.path.dirname(os.path.abspath(path)), "vae.safetensors"))
    sd, meta = read_safetensors(path)
    config = json.loads(meta["config"]) if "config" in meta else CONFIG
    model = build_model(config)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()})
    model.eval()
    return model, meta


def grow_from(model, path):
    """Starts `model` from exported weights with as many or fewer layers: shared tensors are copied, and each
    extra block's two output projections (attention, feed-forward) are zeroed so it begins as the identity
    and the grown model computes exactly what the smaller one did."""
    sd, _ = read_safetensors(path)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unknown = [k for k in sd if k not in own or tuple(own[k].shape) != sd[k].shape]
    if unknown:
        raise SystemExit(f"{path}: tensors {unknown[:3]} do not fit a model of config {CONFIG}")
    model.load_state_dict({**own, **{k: torch.from_numpy(v.copy()) for k, v in sd.items()}})
    extra = sorted({int(k.split(".")[1]) for k in missing if k.startswith("transformer_blocks.")})
    with torch.no_grad():
        for i in extra:
            b = model.transformer_blocks[i]
            for lin in (b.attn1.to_out[0], b.ff.net[2]):
                lin.weight.zero_()
                lin.bias.zero_()
    rest = [k for k in missing if not k.startswith("transformer_blocks.")]
    if rest:
        raise SystemExit(f"{path}: lacks {rest[:3]}")
    return extra


def export(model, path, meta):
    sd = {k: v for k, v in model.state_dict().items()}
    write_safetensors(path, sd, {k: str(v) for k, v in meta.items()})
    # The diffusers config the engine parses (companion/models/shapes.ts), so shipping is a copy of both files.
    inner = CONFIG["heads"] * CONFIG["head_dim"]
    config = {"_class_name": "LTXVideoTransformer3DModel", "_name_or_path": "reshoot/builtin-shapes",
              "in_channels": CHANNELS, "out_channels": CHANNELS, "patch_size": 1, "patch_size_t": 1,
              "num_attention_heads": CONFIG["heads"], "attention_head_dim": CONFIG["head_dim"], "cross_attention_dim": inner,
              "num_layers": CONFIG["layers"], "activation_fn": "gelu-approximate", "qk_norm": "rms_norm_across_heads",
              "norm_elementwise_affine": False, "norm_eps": 1e-6, "caption_channels": CONFIG["caption_channels"],
              "attention_bias": True, "attention_out_bias": True}
    with open(os.path.join(os.path.dirname(path), "config.json"), "w") as f:
        f.write(json.dumps(config, indent=2) + "\n")


# ---------------------------------------------------------------- training

def main():
    global SHAPE_WEIGHT
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=70)
    ap.add_argument("--out", default="/tmp/shapes-run")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sigma-shift", type=float, default=2.0, help="static shift of the training σ towards noise")
    ap.add_argument("--per-token", type=float, default=0.85, help="share of windows with per-token conditioning (the rest: blend)")
    ap.add_argument("--shape-weight", type=float, default=SHAPE_WEIGHT, help="extra loss weight of tokens a shape touches")
    ap.add_argument("--pixel-weight", type=float, default=0.75, help="share of the loss weighted by each channel's pixel variance")
    ap.add_argument("--heads", type=int, default=CONFIG["heads"], help="attention heads of 64 channels (the width is 64 × heads)")
    ap.add_argument("--layers", type=int, default=CONFIG["layers"], help="transformer blocks")
    ap.add_argument("--init", help="exported weights (transformer.safetensors) to start from; extra layers start as the identity")
    ap.add_argument("--workers", type=int, default=0, help="processes making batches ahead (for a GPU; 0: in the training process)")
    ap.add_argument("--device", default="cpu", help="torch device (cuda on a GPU machine; the data is made on the CPU either way)")
    ap.add_argument("--vae", default=SHIPPED_VAE, help="the VAE to train over (pca.py's output; its metadata names the patch); copied beside the weights")
    ap.add_argument("--tasks", help="shares of the kinds of window, e.g. fill-track=0.4,extend=0.25 (the rest keep theirs; all are renormalised)")
    ap.add_argument("--restart-from", help="a ckpt.pt to continue with a new schedule (warm-up to --lr, cosine over --minutes from now), when --out has no checkpoint yet")
    ap.add_argument("--warmup", type=int, default=100, help="warm-up steps of the learning rate")
    ap.add_argument("--save-every", type=float, default=300, help="seconds between checkpoints and exports")
    ap.add_argument("--bench", action="store_true", help="time making batches and the training step here (which sets a run's pace), then exit")
    args = ap.parse_args()
    SHAPE_WEIGHT = args.shape_weight
    if args.tasks:
        for item in args.tasks.split(","):
            name, share = item.split("=")
            if name not in TASKS:
                raise SystemExit(f"--tasks: unknown kind {name!r} (kinds: {', '.join(TASKS)})")
            TASKS[name] = float(share)
        total = sum(TASKS.values())
        for name in TASKS:
            TASKS[name] /= total
        print("tasks " + ", ".join(f"{k} {v:.2f}" for k, v in TASKS.items()), flush=True)
    CONFIG.update(layers=args.layers, heads=args.heads)
    os.makedirs(args.out, exist_ok=True)
    use_vae(args.vae)
    # The weights' folder is self-contained (config.json, transformer.safetensors, vae.safetensors), like models/shapes/.
    if os.path.abspath(args.vae) != os.path.abspath(os.path.join(args.out, "vae.safetensors")):
        shutil.copyfile(args.vae, os.path.join(args.out, "vae.safetensors"))
    print(f"patch {SPATIAL}×{SPATIAL} px × {TEMPORAL} frames, {CHANNELS} latent channels", flush=True)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)

    model = build_model(CONFIG)
    if args.init and not os.path.exists(os.path.join(args.out, "ckpt.pt")):
        grown = grow_from(model, args.init)
        print(f"started from {args.init}; blocks {grown} start as the identity", flush=True)
    ema = build_model(CONFIG)
    ema.load_state_dict(model.state_dict())
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"params {sum(p.numel() for p in params) / 1e6:.2f} M trainable", flush=True)
    ckpt_path = os.path.join(args.out, "ckpt.pt")
    step, elapsed, schedule_from = 0, 0.0, 0
    resume = ckpt_path if os.path.exists(ckpt_path) else args.restart_from
    ck = None
    if resume:
        ck = torch.load(resume, map_location="cpu")
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        step, elapsed, schedule_from = ck["step"], ck["elapsed"], ck.get("schedule_from", 0)
        if resume != ckpt_path:  # a warm restart: the schedule (warm-up, cosine clock) starts again here
            elapsed, schedule_from = 0.0, step
        rng = np.random.default_rng([args.seed, step])
        print(f"resumed at step {step} from {resume}" + (f", schedule from step {schedule_from}" if schedule_from else ""), flush=True)
    # The batch makers fork before the GPU is touched: a child of a process that holds a CUDA context
    # must not use it, and a fork before there is one leaves nothing to get wrong.
    batches = None if args.bench else Batches(args.seed, args.batch, step, args.workers)

    dev = torch.device(args.device)
    model.to(dev)
    ema.to(dev)
    # On a GPU the fused AdamW is a few kernels a step instead of several per tensor (torch ≥ 2; not on the CPU).
    fused = {"fused": True} if dev.type == "cuda" else {}
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99), **fused)
    if ck is not None:
        opt.load_state_dict(ck["opt"])  # its state follows the parameters onto `dev`
    noise_gen = None
    if dev.type == "cuda":
        # TF32 matrix products, and the noise drawn on the GPU (a batch of it is millions of normals, which
        # numpy on one core makes slower than the GPU takes the step): the CPU run's stream is unchanged.
        torch.backends.cuda.matmul.allow_tf32 = True
        noise_gen = torch.Generator(device=dev)
        noise_gen.manual_seed(args.seed * 1_000_003 + step)
    ema_params, model_params = list(ema.parameters()), list(model.parameters())  # paired, for the EMA
    chan_w = channel_weights(args.pixel_weight).to(dev)
    ropes = {}

    def train_step(batch, lr, step):
        """One optimizer step (and the EMA's) on a batch from make_batch; returns the loss, left on the device."""
        for g in opt.param_groups:
            g["lr"] = lr
        src, tgt, mask, shape_w, grid, appended = batch
        if grid not in ropes:
            ropes[grid] = tuple(r.to(dev) for r in rope_tables(*grid, model.dim))
        cos, sin = ropes[grid]
        B, S, C = tgt.shape
        if appended is not None:
            extra, at = appended
            key = (extra.shape[1] // (grid[1] * grid[2]), grid[1], grid[2], at)
            if key not in ropes:
                ropes[key] = tuple(r.to(dev) for r in rope_tables(*key[:3], model.dim, frame_offset=at))
            cos, sin = torch.cat([cos, ropes[key][0]]), torch.cat([sin, ropes[key][1]])
        sigma = torch.from_numpy(sample_sigma(rng, B, args.sigma_shift))[:, None]
        if noise_gen is None:
            noise = torch.from_numpy(rng.standard_normal((B, S, C), dtype=np.float32))
        else:
            noise = torch.randn((B, S, C), generator=noise_gen, device=dev)
        src, tgt, mask, shape_w, sigma, noise = (a.to(dev) for a in (src, tgt, mask, shape_w, sigma, noise))
        noisy = (1 - sigma[..., None]) * tgt + sigma[..., None] * noise
        per_token = torch.from_numpy((rng.random(B) < args.per_token).astype(np.float32))[:, None].to(dev)
        if appended is not None:
            per_token[:] = 1  # the engine appends only with per-token conditioning
        # per-token: known tokens are the clean source at t = 0; otherwise every token is at σ
        known = per_token * (1 - mask)
        x = known[..., None] * src + (1 - known[..., None]) * noisy
        t = 1000 * sigma * (1 - known)
        if appended is not None:
            # Appended tokens are known (t = 0) and dropped from the output, so they carry no loss.
            x = torch.cat([x, appended[0].to(dev)], 1)
            t = torch.cat([t, torch.zeros(B, appended[0].shape[1], device=dev)], 1)
        v = model(x, t, cos, sin)[:, :S]
        weight = (per_token * mask + (1 - per_token)) * shape_w
        err = ((v - (noise - tgt)) ** 2 * chan_w).mean(-1)
        loss = (err * weight).sum() / weight.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(0.998, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, model_params, alpha=1 - decay)
        return loss.detach()

    if args.bench:
        bench(args, train_step, dev)
        return
    budget = args.minutes * 60
    began = time.time() - elapsed
    last_save = time.time()
    # The loss is summed on the device and read every 50 steps: reading it every step (.item()) would make
    # the CPU wait for each GPU step before it could queue the next one.
    loss_sum, loss_count = 0.0, 0
    while True:
        elapsed = time.time() - began
        if elapsed > budget:
            break
        frac = elapsed / budget
        lr = args.lr * min(1, (step - schedule_from + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        loss = train_step(batches.next(), lr, step)
        step += 1
        loss_sum, loss_count = loss_sum + loss, loss_count + 1
        if step % 50 == 0:
            print(f"step {step} t {elapsed / 60:.1f} min lr {lr:.2e} loss {float(loss_sum) / loss_count:.4f}", flush=True)
            loss_sum, loss_count = 0.0, 0
        if time.time() - last_save > args.save_every:
            save(args, model, ema, opt, step, time.time() - began, schedule_from)
            last_save = time.time()
    save(args, model, ema, opt, step, time.time() - began, schedule_from)
    print("done", step, flush=True)


BENCH_BATCHES, BENCH_ROUNDS = 8, 3


def bench(args, train_step, dev):
    """--bench: what sets a run's pace here, the data or the model. Times one process making BENCH_BATCHES
    batches (a run's --workers make about that many times as many), then the training step on those same
    batches over and over (their grids vary as a run's do), and exits without saving anything."""
    t0 = time.time()
    made = [numbered_batch(args.seed, i, args.batch) for i in range(BENCH_BATCHES)]
    data_rate = BENCH_BATCHES * args.batch / (time.time() - t0)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for i, b in enumerate(made):  # warm-up: allocations, kernel choices
        train_step(b, args.lr, i)
    sync()
    t0 = time.time()
    for _ in range(BENCH_ROUNDS):
        for i, b in enumerate(made):
            train_step(b, args.lr, i)
    sync()
    step_s = (time.time() - t0) / (BENCH_ROUNDS * BENCH_BATCHES)
    workers = max(1, args.workers)
    data_total, model_rate = data_rate * workers, args.batch / step_s
    print(f"bench: one process makes {data_rate:.0f} windows/s ({workers} making batches: about {data_total:.0f}); "
          f"the model on {dev.type} takes {step_s:.3f} s/step of batch {args.batch} = {model_rate:.0f} windows/s; "
          f"the pace is set by {'the data' if data_total < model_rate else 'the model'}", flush=True)


def save(args, model, ema, opt, step, elapsed, schedule_from):
    ckpt_path = os.path.join(args.out, "ckpt.pt")
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                "schedule_from": schedule_from}, ckpt_path + ".tmp")
    os.replace(ckpt_path + ".tmp", ckpt_path)
    meta = {"producer": "tools/train-shapes/train.py", "seed": args.seed, "steps": step, "batch": args.batch,
            "minutes": round(elapsed / 60, 1), "init": args.init or "", "restart_from": args.restart_from or "", "schedule_from": schedule_from, "config": json.dumps(CONFIG), "torch": torch.__version__,
            "patch": json.dumps({"spatial": SPATIAL, "temporal": TEMPORAL}),
            "recipe": json.dumps({"lr": args.lr, "sigma_shift": args.sigma_shift, "per_token": args.per_token,
                                  "shape_weight": args.shape_weight, "pixel_weight": args.pixel_weight, "tasks": TASKS})}
    export(ema, os.path.join(args.out, "transformer.safetensors"), meta)
    print(f"saved step {step}", flush=True)


if __name__ == "__main__":
    main()
