"""The PyTorch twin of the library GPT (models/gpt.hpp): a
pre-norm GPT-2 layout, head without bias, trained with AdamW (betas 0.9/0.99, weight decay
0.1 on 2-D weights), gradient clipping at 1.0. Options as nanoGPT's: `tie` makes the head's
weight the token table (nanoGPT's lm_head.weight = wte.weight), `bias=False` drops every
Linear's and LayerNorm's bias (nanoGPT's bias = False). Used by
bench/torch_bench.py (training tokens/s, the same case names as xgrad_bench) and by
bench/transformer_twin.py (the validation loss the same recipe reaches)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNorm(nn.Module):
    """nanoGPT's LayerNorm with an optional bias (torch 1.13's nn.LayerNorm has no bias=False)."""

    def __init__(self, width, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class Block(nn.Module):
    def __init__(self, width, heads, dropout, attention_dropout=0.0, bias=True):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(width, bias), LayerNorm(width, bias)
        self.qkv, self.proj = nn.Linear(width, 3 * width, bias=bias), nn.Linear(width, width, bias=bias)
        self.fc, self.out = nn.Linear(width, 4 * width, bias=bias), nn.Linear(4 * width, width, bias=bias)
        self.heads, self.dropout, self.attention_dropout = heads, dropout, attention_dropout

    def forward(self, x):
        batch, time, width = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(width, dim=2)
        q, k, v = [t.view(batch, time, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v)]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(width // self.heads))
        mask = torch.ones(time, time, dtype=torch.bool).tril()
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)  # torch 1.13: no fused sdpa
        att = F.dropout(att, self.attention_dropout, self.training)  # nanoGPT's attn_dropout
        y = (att @ v).transpose(1, 2).contiguous().view(batch, time, width)
        x = x + F.dropout(self.proj(y), self.dropout, self.training)
        return x + F.dropout(self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh")), self.dropout, self.training)


class GPT(nn.Module):
    def __init__(self, layers, width, heads, context, vocab=256, dropout=0.0, attention_dropout=0.0,
                 bias=True, tie=False):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.ModuleList([Block(width, heads, dropout, attention_dropout, bias) for _ in range(layers)])
        self.ln_f = LayerNorm(width, bias)
        self.head = nn.Linear(width, vocab, bias=False)
        if tie:  # one parameter: the gather's and the head's gradients sum into it
            self.head.weight = self.wte.weight
        self.dropout = dropout
        # GPT-2's initialisation, as xgrad's; named_parameters lists a tied table once, as wte.
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "out.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids, targets):
        time = ids.shape[1]
        x = F.dropout(self.wte(ids) + self.wpe(torch.arange(time)), self.dropout, self.training)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def optimizer(model, lr, weight_decay=0.1):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def train_step(model, opt, ids, targets, clip=1.0):
    loss = model(ids, targets)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss


def flops_per_token(layers, width, context, vocab=256):
    """Training FLOPs per token (forward + backward = 3x forward) of the products: per layer
    qkv, proj, fc, out (24 C^2: 12 C^2 multiply-adds) and attention's two T x T products over
    the full square (4 T C), plus the head (2 C V)."""
    forward = layers * (24 * width * width + 4 * context * width) + 2 * width * vocab
    return 3 * forward
