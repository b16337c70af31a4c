"""
Reference numbers for test/quality/shapes-model.test.ts: the training code's own forward pass
on the exported weights, for one clip of the family, so the test can check that the ONNX graph
the project builds from models/shapes/ computes what was trained (same tensor layout, RoPE,
timestep conditioning).

Run: /usr/bin/python3 tools/train-shapes/reference.py models/shapes > test/quality/fixtures/shapes-reference.json
"""
import json
import os
import sys

# One BLAS thread, set before numpy loads OpenBLAS, as evaluate.py and train.py do: the fixture's float32 sums
# then come out the same whatever the machine's core count (threads split the sums another way).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import shapes  # noqa: E402
import train  # noqa: E402


def noise_of(S, C):
    """A noise field both languages compute alike (float64 sin, rounded to float32): sin(1.3·s + 0.37·c)."""
    s_idx, c_idx = np.meshgrid(np.arange(S), np.arange(C), indexing="ij")
    return torch.from_numpy(np.sin(1.3 * s_idx + 0.37 * c_idx).astype(np.float32))[None]


def appended_bridge(model, seed):
    """The training code's layout of test/quality/tasks.ts's bridge window as the engine conditions it
    with per-token conditioning (train.appended_window): clip frames 12–28, A = 12–16 known, 17–23 the
    gap, B = 24–28 appended at window frame 12; the model's velocity with the generated grid tokens
    noised at σ 0.6 (the noise field over grid tokens), appended tokens at t = 0."""
    frames, a, at, n = 17, 3, 12, 5
    f = 1 + (frames - 1) // train.TEMPORAL
    g = train.SIZE // train.SPATIAL
    video = shapes.render(shapes.clip_params(seed), frames, start=12)
    src, mask, extra = train.appended_window(video, f, a, at, n)
    src, extra = torch.from_numpy(src)[None], torch.from_numpy(extra)[None]
    m = torch.from_numpy(mask.astype(np.float32))[None]
    S, C = src.shape[1:]
    sigma = 0.6
    x = m[..., None] * ((1 - sigma) * src + sigma * noise_of(S, C)) + (1 - m[..., None]) * src
    cos, sin = train.rope_tables(f, g, g, model.dim)
    prefix = extra.shape[1] // (g * g)
    cos_a, sin_a = train.rope_tables(prefix, g, g, model.dim, frame_offset=at)
    with torch.no_grad():
        v = model(torch.cat([x, extra], 1), torch.cat([1000 * sigma * m, torch.zeros(1, extra.shape[1])], 1),
                  torch.cat([cos, cos_a]), torch.cat([sin, sin_a]))[0, :S]
    A = extra.shape[1]
    picks = [(s, c) for s in (0, S // 2, S - 1) for c in (0, 1, C - 1)]
    picks_a = [(s, c) for s in (0, A // 2 + 3, A - 1) for c in (0, 1, C - 1)]
    picks_r = [(s, c) for s in (0, A // 2 + 3, A - 1) for c in (2, 62, 122, model.dim - 1)]
    return {
        "window": {"clipStart": 12, "frames": frames, "knownFrames": 5, "suffixAt": at, "suffixFrames": n},
        "generatedPerLatentFrame": [int(v) for v in mask.reshape(f, -1).sum(1)],
        "tokens": {"count": A, "sumAbs": float(extra.abs().sum()), "samples": [[s, c, float(extra[0, s, c])] for s, c in picks_a]},
        "rope": [[s, c, float(cos_a[s, c]), float(sin_a[s, c])] for s, c in picks_r],
        "velocity": {"sumAbs": float(v.abs().sum()), "samples": [[s, c, float(v[s, c])] for s, c in picks]},
    }


def main():
    torch.set_num_threads(1)
    model, meta = train.load_model(os.path.join(sys.argv[1], "transformer.safetensors"))
    seed, frames = 7, 17
    video = shapes.render(shapes.clip_params(seed), frames)
    tokens = torch.from_numpy(train.encode(train.patchify(video)))[None]
    f = 1 + (frames - 1) // train.TEMPORAL
    g = train.SIZE // train.SPATIAL
    # Extend-style window: the latent frames of pixel frames 0–4 known (t = 0), the rest noised at σ = 0.6.
    known = train.latent_of(5)
    mask = torch.zeros(f, g, g)
    mask[known:] = 1
    mask = mask.reshape(1, -1)
    S, C = tokens.shape[1:]
    picks = [(s, c) for s in (0, S // 3, S - 1) for c in (0, 1, C - 1)]
    noise = noise_of(S, C)
    sigma = 0.6
    x = mask[..., None] * ((1 - sigma) * tokens + sigma * noise) + (1 - mask[..., None]) * tokens
    cos, sin = train.rope_tables(f, g, g, model.dim)
    with torch.no_grad():
        v = model(x, 1000 * sigma * mask, cos, sin)[0]
        # Context guidance's second pass (evaluate.py sample): the generated tokens alone, at their own RoPE rows.
        gen = mask[0] > 0
        alone = model(x[:, gen], (1000 * sigma * mask)[:, gen], cos[gen], sin[gen])[0]
    G = alone.shape[0]
    picks_g = [(k, c) for k in (0, G // 2, G - 1) for c in (0, 1, C - 1)]
    S = v.shape[0]
    # RoPE tables for each patch the tools support, over a small grid (f 5, h 2, w 2): the time
    # coordinate of a latent frame depends on the frames per cell, so the engine must match each.
    rope = {}
    shipped = (train.SPATIAL, train.TEMPORAL)
    for temporal in (1, 2, 4):
        train.set_patch(train.SPATIAL, temporal)
        cos_t, sin_t = train.rope_tables(5, 2, 2, model.dim)
        picks_r = [(s, c) for s in (0, 5, 9, 14, 19) for c in (2, 62, 122, 123, model.dim - 1)]
        rope[str(temporal)] = [[s, c, float(cos_t[s, c]), float(sin_t[s, c])] for s, c in picks_r]
    train.set_patch(*shipped)
    print(json.dumps({
        "appended": appended_bridge(model, seed),
        "rope": {"grid": [5, 2, 2], "dim": model.dim, "byTemporal": rope},
        "note": "made by tools/train-shapes/reference.py from models/shapes (training code forward, torch CPU fp32)",
        "weights": meta,
        "clip": {"seed": seed, "frames": frames, "fps": train.FPS},
        "patch": {"spatial": train.SPATIAL, "temporal": train.TEMPORAL},
        "sigma": sigma,
        "knownLatentFrames": known,
        "noise": "sin(1.3·s + 0.37·c) for token s, channel c",
        "latent": {"sumAbs": float(tokens.abs().sum()), "samples": [[s, c, float(tokens[0, s, c])] for s, c in picks]},
        "velocity": {"sumAbs": float(v.abs().sum()), "mean": float(v.mean()), "samples": [[s, c, float(v[s, c])] for s, c in picks]},
        "contextFree": {"tokens": G, "sumAbs": float(alone.abs().sum()), "samples": [[k, c, float(alone[k, c])] for k, c in picks_g]},
    }, indent=2))


if __name__ == "__main__":
    main()
