"""PyTorch eager side of bench/gpu: the LTX-Video transformer's math (the same as
companion/models/ltxv/transformer.ts: adaLN-single per token, RMSNorm across heads on q/k, RoPE,
self- and cross-attention through torch's scaled_dot_product_attention, GELU-tanh feed-forward)
with random weights, timed on the GPU at the shapes bench/gpu/ort.ts runs.

    python3 bench/gpu/torch_ltx.py OUT.json CASES.json

CASES.json: [{"model": "2b", "layers": 28, "heads": 32, "head_dim": 64, "caption": 4096,
"tokens": 6144, "batch": 1, "text": 128}, ...]. Writes {"skipped": reason} when torch or CUDA
is missing, else one result per case and dtype (fp32, bf16): ms per step, peak GPU memory.
Written for this project; no upstream code.
"""
import json
import sys
import time

out_path, cases_path = sys.argv[1], sys.argv[2]


def write(obj):
    with open(out_path, "w") as f:
        json.dump(obj, f)


try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means: skip
    write({"skipped": f"PyTorch not importable ({e})"})
    print(f"PyTorch: skipped ({e})")
    sys.exit(0)
if not torch.cuda.is_available():
    write({"skipped": f"PyTorch {torch.__version__} has no CUDA device here"})
    print(f"PyTorch {torch.__version__}: no CUDA device, GPU side skipped")
    sys.exit(0)
if not hasattr(F, "scaled_dot_product_attention"):
    write({"skipped": f"PyTorch {torch.__version__} has no scaled_dot_product_attention"})
    sys.exit(0)


def rms(x, eps):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype)


class Block(torch.nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        lin = lambda i, o: torch.nn.Linear(i, o)  # noqa: E731
        self.q1, self.k1, self.v1, self.o1 = lin(d, d), lin(d, d), lin(d, d), lin(d, d)
        self.q2, self.k2, self.v2, self.o2 = lin(d, d), lin(d, d), lin(d, d), lin(d, d)
        self.nq1, self.nk1 = torch.nn.Parameter(torch.ones(d)), torch.nn.Parameter(torch.ones(d))
        self.nq2, self.nk2 = torch.nn.Parameter(torch.ones(d)), torch.nn.Parameter(torch.ones(d))
        self.ff1, self.ff2 = lin(d, 4 * d), lin(4 * d, d)
        self.table = torch.nn.Parameter(torch.randn(6, d) / d**0.5)

    def attn(self, x, ctx, q, k, v, o, nq, nk, rope=None, mask=None):
        b, s, d = x.shape
        qq, kk, vv = rms(q(x), 1e-5) * nq, rms(k(ctx), 1e-5) * nk, v(ctx)
        if rope is not None:
            cos, sin = rope
            def rot(t):
                p = t.unflatten(-1, (-1, 2))
                r = torch.stack((-p[..., 1], p[..., 0]), -1).flatten(-2)
                return t * cos + r * sin
            qq, kk = rot(qq), rot(kk)
        split = lambda t: t.unflatten(-1, (self.h, -1)).transpose(1, 2)  # noqa: E731
        y = F.scaled_dot_product_attention(split(qq), split(kk), split(vv), attn_mask=mask)
        return o(y.transpose(1, 2).flatten(-2))

    def forward(self, x, text, temb, rope, mask):
        a = temb.unflatten(-1, (6, -1)) + self.table
        sh1, sc1, g1, sh2, sc2, g2 = a.unbind(2)
        n = rms(x, 1e-6) * (1 + sc1) + sh1
        x = x + self.attn(n, n, self.q1, self.k1, self.v1, self.o1, self.nq1, self.nk1, rope=rope) * g1
        x = x + self.attn(x, text, self.q2, self.k2, self.v2, self.o2, self.nq2, self.nk2, mask=mask)
        n = rms(x, 1e-6) * (1 + sc2) + sh2
        return x + self.ff2(F.gelu(self.ff1(n), approximate="tanh")) * g2


class Ltx(torch.nn.Module):
    def __init__(self, layers, heads, head_dim, caption):
        super().__init__()
        d = heads * head_dim
        self.proj_in, self.proj_out = torch.nn.Linear(128, d), torch.nn.Linear(d, 128)
        self.t1, self.t2, self.t6 = torch.nn.Linear(256, d), torch.nn.Linear(d, d), torch.nn.Linear(d, 6 * d)
        self.c1, self.c2 = torch.nn.Linear(caption, d), torch.nn.Linear(d, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads) for _ in range(layers))

    def forward(self, hidden, captions, mask, timestep, cos, sin):
        freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(128, device=hidden.device) / 128)
        args = timestep.float()[..., None] * freqs
        emb = self.t2(F.silu(self.t1(torch.cat([args.cos(), args.sin()], -1).to(hidden.dtype))))
        temb = self.t6(F.silu(emb))
        text = self.c2(F.gelu(self.c1(captions), approximate="tanh"))
        bias = ((1 - mask) * -10000.0)[:, None, None, :].to(hidden.dtype)
        x = self.proj_in(hidden)
        for blk in self.blocks:
            x = blk(x, text, temb, (cos, sin), bias)
        return self.proj_out(rms(x, 1e-6))


results = []
dev = torch.device("cuda")
for case in json.load(open(cases_path)):
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        if case.get("dtypes") and name not in case["dtypes"]:
            continue
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            with torch.no_grad():
                m = Ltx(case["layers"], case["heads"], case["head_dim"], case["caption"]).to(dev, dtype).eval()
                b, s, d, L = case["batch"], case["tokens"], case["heads"] * case["head_dim"], case["text"]
                inputs = (
                    torch.randn(b, s, 128, device=dev, dtype=dtype),
                    torch.randn(b, L, case["caption"], device=dev, dtype=dtype),
                    (torch.arange(L, device=dev) < 40).float().expand(b, L),
                    torch.rand(b, s, device=dev) * 1000,
                    torch.randn(b, s, d, device=dev, dtype=dtype).clamp(-1, 1),
                    torch.randn(b, s, d, device=dev, dtype=dtype).clamp(-1, 1),
                )
                m(*inputs)
                torch.cuda.synchronize()
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    m(*inputs)
                    torch.cuda.synchronize()
                    times.append((time.perf_counter() - t) * 1000)
            r = {**case, "dtype": name, "ms": sorted(times)[1], "peak_bytes": torch.cuda.max_memory_allocated()}
        except torch.cuda.OutOfMemoryError as e:
            r = {**case, "dtype": name, "error": f"out of memory ({str(e).splitlines()[0]})"}
        finally:
            m = None
        results.append(r)
        print(json.dumps(r), flush=True)
write({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "results": results})
