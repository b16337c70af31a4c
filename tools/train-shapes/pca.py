"""
Fits the "VAE" of builtin:shapes: a linear autoencoder (PCA) of the 8×8 px × T frame RGB patches
of the shapes family. The patchify is the test models' exactly invertible one
(companion/models/patchVae.ts, P = 3·T·8·8 values per cell); PCA keeps the top 64 directions, each
scaled to unit variance, so the latent the transformer sees is 64 channels of roughly unit variance
(the transformer's width, 128, must exceed the latent's channels for it to carry the noise).

Run: /usr/bin/python3 tools/train-shapes/pca.py models/shapes/vae.safetensors [--temporal T]   (T: 1, 2 or 4; default 2)
Writes encoder.weight [64, P], encoder.bias [64], decoder.weight [P, 64], decoder.bias [P]
(float32): latent = encoder.weight · patch + encoder.bias; patch ≈ decoder.weight · latent + decoder.bias;
and the patch in the metadata (spatial, temporal), which train.py, the tools and the engine
(companion/models/shapes.ts) read: the file says what it is.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import shapes  # noqa: E402
import train  # noqa: E402

LATENT = 64
SPATIAL = 8
CLIPS = 120
SEED = 2024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--temporal", type=int, default=2, help="pixel frames per latent frame")
    args = ap.parse_args()
    train.set_patch(SPATIAL, args.temporal)
    rng = np.random.default_rng(SEED)
    patches = []
    for _ in range(CLIPS):
        p = shapes.clip_params(int(rng.integers(train.TRAIN_SEED_BASE, 2**31)))
        patches.append(train.patchify(shapes.render(p, train.FRAMES, start=int(rng.integers(0, 24)))))
    x = np.concatenate(patches).astype(np.float64)
    mu = x.mean(0)
    w, v = np.linalg.eigh(np.cov((x - mu).T))
    order = np.argsort(w)[::-1][:LATENT]
    w, v = w[order], v[:, order]
    # Fix each direction's sign (eigh may return either) so the fit is reproducible.
    v *= np.sign(v[np.abs(v).argmax(0), np.arange(LATENT)])
    std = np.sqrt(w)
    enc = (v / std).T  # [64, P]
    dec = v * std  # [P, 64]
    tensors = {
        "encoder.weight": torch.from_numpy(enc.astype(np.float32)),
        "encoder.bias": torch.from_numpy((-enc @ mu).astype(np.float32)),
        "decoder.weight": torch.from_numpy(dec.astype(np.float32)),
        "decoder.bias": torch.from_numpy(mu.astype(np.float32)),
    }
    kept = w.sum() / np.cov((x - mu).T).trace()
    train.write_safetensors(args.out, tensors, {"producer": "tools/train-shapes/pca.py", "clips": str(CLIPS), "seed": str(SEED),
                                                "latent": str(LATENT), "variance_kept": f"{kept:.4f}",
                                                "spatial": str(SPATIAL), "temporal": str(args.temporal)}, dtype="F32")
    print(f"kept {kept:.4f} of the variance in {LATENT} of {x.shape[1]} directions, {len(x)} patches")


if __name__ == "__main__":
    main()
