"""
The synthetic video family of `builtin:shapes`, the Python twin of companion/media/shapes.ts.

One to three coloured shapes (circle, square, diamond) move at constant velocity and bounce off
the walls over a slowly panning background (a two-colour gradient with faint stripes). Every clip
is a pure function of its seed: parameters come from mulberry32 in a fixed order, the geometry is
float64 arithmetic, and pixels are rounded as floor(v * 255 + 0.5), exactly as in the TypeScript
twin (tests compare the two).

Besides the frames, a clip knows its ground truth: the clean background of every frame, each
shape's centre per frame, and a render with any subset of the shapes left out.
"""
import math

import numpy as np

PALETTE = [
    (0.90, 0.12, 0.12),  # red
    (0.10, 0.75, 0.15),  # green
    (0.12, 0.25, 0.95),  # blue
    (0.95, 0.85, 0.10),  # yellow
    (0.85, 0.15, 0.85),  # magenta
    (0.10, 0.85, 0.90),  # cyan
]
KINDS = ["circle", "square", "diamond"]


def mulberry32(seed):
    a = seed & 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & 0xFFFFFFFF

    def rand():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296.0

    return rand


def clip_params(seed, width=64, height=64):
    r = mulberry32(seed)
    bg = {
        "a": [0.15 + 0.7 * r() for _ in range(3)],
        "b": [0.15 + 0.7 * r() for _ in range(3)],
        "angle": 2 * math.pi * r(),
        "period": 16 + 16 * r(),
        "stripe_angle": 2 * math.pi * r(),
        "amp": 0.04 + 0.06 * r(),
        "pan": [(r() * 2 - 1) * 0.6, (r() * 2 - 1) * 0.6],
    }
    n = 1 + int(math.floor(r() * 3))
    colours = list(range(len(PALETTE)))
    shapes = []
    for _ in range(n):
        kind = KINDS[int(math.floor(r() * len(KINDS)))]
        colour = colours.pop(int(math.floor(r() * len(colours))))
        radius = 5 + 4 * r()
        x = radius + (width - 2 * radius) * r()
        y = radius + (height - 2 * radius) * r()
        speed = 0.8 + 1.7 * r()
        direction = 2 * math.pi * r()
        shapes.append({
            "kind": kind, "colour": colour, "radius": radius,
            "x": x, "y": y, "vx": speed * math.cos(direction), "vy": speed * math.sin(direction),
        })
    return {"width": width, "height": height, "background": bg, "shapes": shapes}


def track(shape, frames, width, height):
    """Centre of a shape in each frame: constant velocity, reflected at the walls."""
    x, y, vx, vy, rad = shape["x"], shape["y"], shape["vx"], shape["vy"], shape["radius"]
    out = []
    for _ in range(frames):
        out.append((x, y))
        x += vx
        y += vy
        if x < rad:
            x, vx = 2 * rad - x, -vx
        elif x > width - rad:
            x, vx = 2 * (width - rad) - x, -vx
        if y < rad:
            y, vy = 2 * rad - y, -vy
        elif y > height - rad:
            y, vy = 2 * (height - rad) - y, -vy
    return out


def background(p, t, px, py):
    """Clean background of frame t at pixel centres (px, py): float64 [H, W, 3] in [0, 1]."""
    bg = p["background"]
    u = px - bg["pan"][0] * t - p["width"] / 2
    v = py - bg["pan"][1] * t - p["height"] / 2
    g = 0.5 + (u * math.cos(bg["angle"]) + v * math.sin(bg["angle"])) / 64
    g = np.clip(g, 0, 1)
    k = 2 * math.pi / bg["period"]
    stripes = bg["amp"] * np.sin(k * (u * math.cos(bg["stripe_angle"]) + v * math.sin(bg["stripe_angle"])))
    a, b = bg["a"], bg["b"]
    return np.stack([a[c] + (b[c] - a[c]) * g + stripes for c in range(3)], axis=-1)


def coverage(kind, radius, cx, cy, px, py):
    """Anti-aliased coverage in [0, 1] from a signed distance at pixel centres."""
    dx = px - cx
    dy = py - cy
    if kind == "circle":
        d = np.sqrt(dx * dx + dy * dy) - radius
    elif kind == "square":
        d = np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * radius
    else:  # diamond
        d = (np.abs(dx) + np.abs(dy) - 1.2 * radius) * math.sqrt(0.5)
    return np.clip(0.5 - d, 0, 1)


def render(p, frames, without=(), start=0):
    """uint8 [F, H, W, 3] with the shapes whose index is in `without` left out."""
    w, h = p["width"], p["height"]
    px, py = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    tracks = [track(s, start + frames, w, h) for s in p["shapes"]]
    out = np.empty((frames, h, w, 3), np.uint8)
    for i in range(frames):
        t = start + i
        img = background(p, t, px, py)
        for j, s in enumerate(p["shapes"]):
            if j in without:
                continue
            a = coverage(s["kind"], s["radius"], *tracks[j][t], px, py)[..., None]
            img = img * (1 - a) + np.array(PALETTE[s["colour"]]) * a
        out[i] = np.floor(np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    return out


def footprints(p, frames, start=0):
    """bool [n_shapes, F, H, W]: pixels each shape touches (coverage > 0)."""
    w, h = p["width"], p["height"]
    px, py = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    out = np.zeros((len(p["shapes"]), frames, h, w), bool)
    for j, s in enumerate(p["shapes"]):
        tr = track(s, start + frames, w, h)
        for i in range(frames):
            out[j, i] = coverage(s["kind"], s["radius"], *tr[start + i], px, py) > 0
    return out


if __name__ == "__main__":
    import sys
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    v = render(clip_params(seed), 17)
    print(seed, v.shape, int(v.sum()), v[0, 0, 0].tolist(), v[16, 40, 20].tolist())
