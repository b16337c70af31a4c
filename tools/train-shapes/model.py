"""
The LTX-Video transformer (diffusers' LTXVideoTransformer3DModel) at a small width, in PyTorch,
with the diffusers state-dict names, so its weights export one to one onto the project's ONNX
graph (companion/models/ltxv/transformer.ts). Written from that graph, not copied from diffusers.

Cross-attention is present in the exported state dict but trained as a no-op: `builtin:shapes`
has no text conditioning, so attn2.to_out.0 is zero and the prompt cannot change the output.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

TIMESTEP_CHANNELS = 256


def rms_norm(x, eps, weight=None):
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return x * weight if weight is not None else x


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def timestep_embedding(t):
    """Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0): [cos, sin]."""
    half = TIMESTEP_CHANNELS // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


def attend(q, k, v):
    """softmax(q kᵀ / √d) v over [B, heads, S, d]. torch 2's fused kernel where there is one (on a GPU it is
    one kernel instead of five and never holds the S × S scores); Debian's torch 1.13 lacks it."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v


def apply_rope(x, cos, sin):
    pairs = x.unflatten(-1, (-1, 2))
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], -1).flatten(-2)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.norm_q = nn.Module()
        self.norm_q.weight = nn.Parameter(torch.ones(dim))
        self.norm_k = nn.Module()
        self.norm_k.weight = nn.Parameter(torch.ones(dim))
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])

    def forward(self, x, cos, sin, perturbed=False):
        """`perturbed`: STG's "attention_values" (the engine's stg_perturb input): every token attends
        only to itself, so the output is the projected values."""
        B, S, D = x.shape
        if perturbed:
            return self.to_out[0](self.to_v(x))
        q = apply_rope(rms_norm(self.to_q(x), 1e-5, self.norm_q.weight), cos, sin)
        k = apply_rope(rms_norm(self.to_k(x), 1e-5, self.norm_k.weight), cos, sin)
        v = self.to_v(x)
        q, k, v = (t.view(B, S, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        return self.to_out[0](attend(q, k, v).transpose(1, 2).reshape(B, S, D))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.attn1 = Attention(dim, heads)
        self.attn2 = Attention(dim, heads)  # exported, not run: see the module docstring
        self.ff = nn.Module()
        self.ff.net = nn.ModuleList([nn.Module(), nn.Identity(), nn.Linear(4 * dim, dim)])
        self.ff.net[0].proj = nn.Linear(dim, 4 * dim)
        self.scale_shift_table = nn.Parameter(torch.randn(6, dim) / dim**0.5)

    def forward(self, x, temb, cos, sin, perturbed=False):
        B, S, D = x.shape
        ada = temb.view(B, S, 6, D) + self.scale_shift_table
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = ada.unbind(2)
        n1 = rms_norm(x, 1e-6) * (1 + scale_msa) + shift_msa
        x = x + self.attn1(n1, cos, sin, perturbed) * gate_msa
        n2 = rms_norm(x, 1e-6) * (1 + scale_mlp) + shift_mlp
        ff = self.ff.net[2](gelu_tanh(self.ff.net[0].proj(n2)))
        return x + ff * gate_mlp


class LtxTransformer(nn.Module):
    def __init__(self, channels, heads, head_dim, layers, caption_channels):
        super().__init__()
        D = heads * head_dim
        self.dim = D
        self.proj_in = nn.Linear(channels, D)
        self.time_embed = nn.Module()
        self.time_embed.emb = nn.Module()
        self.time_embed.emb.timestep_embedder = nn.Module()
        self.time_embed.emb.timestep_embedder.linear_1 = nn.Linear(TIMESTEP_CHANNELS, D)
        self.time_embed.emb.timestep_embedder.linear_2 = nn.Linear(D, D)
        self.time_embed.linear = nn.Linear(D, 6 * D)
        self.caption_projection = nn.Module()
        self.caption_projection.linear_1 = nn.Linear(caption_channels, D)
        self.caption_projection.linear_2 = nn.Linear(D, D)
        self.transformer_blocks = nn.ModuleList([Block(D, heads) for _ in range(layers)])
        self.scale_shift_table = nn.Parameter(torch.randn(2, D) / D**0.5)
        self.proj_out = nn.Linear(D, channels)
        for b in self.transformer_blocks:
            # adaLN-zero style start: every block begins as the identity.
            nn.init.zeros_(b.attn2.to_out[0].weight)
            nn.init.zeros_(b.attn2.to_out[0].bias)
            b.attn2.requires_grad_(False)
        self.caption_projection.requires_grad_(False)
        nn.init.zeros_(self.time_embed.linear.weight)
        nn.init.zeros_(self.time_embed.linear.bias)

    def forward(self, x, timestep, cos, sin, perturb=()):
        """x [B, S, C], timestep [B, S] (σ·1000, 0 for known tokens), cos/sin [S, D] → velocity.
        `perturb`: blocks whose self-attention is perturbed (STG's perturbed pass)."""
        x = self.proj_in(x)
        e = self.time_embed.emb.timestep_embedder
        embedded = e.linear_2(F.silu(e.linear_1(timestep_embedding(timestep))))
        temb = self.time_embed.linear(F.silu(embedded))
        for i, b in enumerate(self.transformer_blocks):
            x = b(x, temb, cos, sin, i in perturb)
        shift, scale = (embedded[:, :, None] + self.scale_shift_table).unbind(2)
        x = F.layer_norm(x, (self.dim,), eps=1e-6) * (1 + scale) + shift
        return self.proj_out(x)
