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


def _clip01(x):
    """np.clip(x, 0, 1) without np.clip's Python wrapper, which on these small arrays costs more than
    the arithmetic (the same values: nothing here is NaN)."""
    return np.minimum(np.maximum(x, 0), 1)


def background(p, t, px, py):
    """Clean background at pixel centres (px, py): float64 [..., H, W, 3] in [0, 1]. px and py broadcast
    against each other (a row of x [1, W] and a column of y [H, 1] is cheapest: u below depends on x alone,
    v on y); `t` is a frame number, or an array of them shaped to broadcast too ([F, 1, 1])."""
    bg = p["background"]
    u = px - bg["pan"][0] * t - p["width"] / 2
    v = py - bg["pan"][1] * t - p["height"] / 2
    g = 0.5 + (u * math.cos(bg["angle"]) + v * math.sin(bg["angle"])) / 64  # [..., H, W] from here
    g = _clip01(g)
    k = 2 * math.pi / bg["period"]
    stripes = bg["amp"] * np.sin(k * (u * math.cos(bg["stripe_angle"]) + v * math.sin(bg["stripe_angle"])))
    a = np.array(bg["a"])
    return a + (np.array(bg["b"]) - a) * g[..., None] + stripes[..., None]


def coverage(kind, radius, cx, cy, px, py):
    """Anti-aliased coverage in [0, 1] from a signed distance at pixel centres (px and py broadcast)."""
    dx = px - cx
    dy = py - cy
    if kind == "circle":
        d = np.sqrt(dx * dx + dy * dy) - radius
    elif kind == "square":
        d = np.maximum(np.abs(dx), np.abs(dy)) - 0.85 * radius
    else:  # diamond
        d = (np.abs(dx) + np.abs(dy) - 1.2 * radius) * math.sqrt(0.5)
    return _clip01(0.5 - d)


def _box(shape, cx, cy, rows, cols):
    """The part of a region (`rows`, `cols`: ranges of pixel rows and columns) that can hold any of a
    shape's coverage, as slices into the region, or None. Outside it the coverage is exactly 0 (the signed
    distance is ≥ 0.5 beyond 1.2·radius + 0.71 px of the centre, the diamond's corners), so drawing the shape
    there alone gives the same bytes as drawing it over the whole frame, far faster."""
    reach = 1.2 * shape["radius"] + 1
    y0, y1 = max(rows.start, math.floor(cy - reach - 0.5)), min(rows.stop, math.ceil(cy + reach - 0.5) + 1)
    x0, x1 = max(cols.start, math.floor(cx - reach - 0.5)), min(cols.stop, math.ceil(cx + reach - 0.5) + 1)
    if y0 >= y1 or x0 >= x1:
        return None
    return slice(y0 - rows.start, y1 - rows.start), slice(x0 - cols.start, x1 - cols.start)


def _drawn(shape, cx, cy, rows, cols, px, py):
    """(box, coverage in it) of a shape centred at (cx, cy) over a region (_box, _pixel_centres), or None."""
    box = _box(shape, cx, cy, rows, cols)
    if box is None:
        return None
    return box, coverage(shape["kind"], shape["radius"], cx, cy, px[:, box[1]], py[box[0]])


def _pixel_centres(p, region):
    """The region's rows and columns (the whole frame if None), and its pixel centres as a row of x [1, W]
    and a column of y [H, 1]."""
    rows, cols = region or (range(p["height"]), range(p["width"]))
    px = (np.arange(cols.start, cols.stop) + 0.5)[None, :]
    py = (np.arange(rows.start, rows.stop) + 0.5)[:, None]
    return rows, cols, px, py


def render(p, frames, without=(), start=0, region=None):
    """uint8 [F, H, W, 3] with the shapes whose index is in `without` left out. `region` (a range of rows and
    one of columns) renders only those pixels: the same bytes as cutting them out of the whole frame."""
    return render_each(p, frames, [without], start, region)[0]


def render_each(p, frames, withouts, start=0, region=None):
    """render() once for each set of left-out shapes in `withouts`, sharing the background (most of the
    arithmetic): a fill's training window wants the clip both with and without the shapes it removes."""
    rows, cols, px, py = _pixel_centres(p, region)
    clean = background(p, np.arange(start, start + frames)[:, None, None], px, py)
    tracks = [track(s, start + frames, p["width"], p["height"])[start:] for s in p["shapes"]]
    out = []
    for without in withouts:
        img = clean.copy()
        for j, s in enumerate(p["shapes"]):
            if j in without:
                continue
            colour = np.array(PALETTE[s["colour"]])
            for i, (cx, cy) in enumerate(tracks[j]):
                drawn = _drawn(s, cx, cy, rows, cols, px, py)
                if drawn is not None:
                    box, a = drawn[0], drawn[1][..., None]
                    img[i][box] = img[i][box] * (1 - a) + colour * a
        out.append(np.floor(_clip01(img) * 255 + 0.5).astype(np.uint8))
    return out


def footprints(p, frames, start=0):
    """bool [n_shapes, F, H, W]: pixels each shape touches (coverage > 0)."""
    rows, cols, px, py = _pixel_centres(p, None)
    out = np.zeros((len(p["shapes"]), frames, len(rows), len(cols)), bool)
    for j, s in enumerate(p["shapes"]):
        for i, (cx, cy) in enumerate(track(s, start + frames, p["width"], p["height"])[start:]):
            drawn = _drawn(s, cx, cy, rows, cols, px, py)
            if drawn is not None:
                out[j, i][drawn[0]] = drawn[1] > 0
    return out


if __name__ == "__main__":
    import sys
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    v = render(clip_params(seed), 17)
    print(seed, v.shape, int(v.sum()), v[0, 0, 0].tolist(), v[16, 40, 20].tolist())
