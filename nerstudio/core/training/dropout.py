"""Dropout masks from a seeded pool of random bits, for CPU training.

PyTorch draws CPU dropout masks with ``bernoulli_``, one Mersenne-Twister number per element on a
single thread: about 16 ns an element, so the 19 dropout layers of a 6-layer BERT (hidden states
and attention probabilities) took a tenth of a CPU training step, as much as all of its
layer norms, GELUs and softmaxes together. Here every mask is instead read from one pool of
random 16-bit numbers drawn once per run from the run's seed: each mask takes a window at a
random offset of the pool and XORs it with a random 16-bit constant (both drawn from torch's global
generator, which the Trainer seeds and saves in checkpoints, so runs and resumed runs are
reproducible). An element is kept when its number is at or above ``p * 65536`` (offset to int16),
so the elements of one mask are independent with keep probability ``1 - p`` (to 1/65536), and the
kept ones are scaled by ``1 / (1 - p)`` exactly as in ``nn.Dropout``. Masks of different calls are
different windows, so no two layers or steps share a mask.

Used for training on the CPU only; CUDA's dropout (Philox, in parallel) is already cheap.
"""
from __future__ import annotations

import torch
from torch import nn

ATTENTION = "nerstudio_pooled_dropout"  # the attention implementation registered below
POOL_SIZE = 1 << 24                     # 16.8 M numbers, 32 MiB; a CPU step uses about 2 M


class MaskPool:
    """Random int16 numbers drawn once from ``seed``; masks are random windows of them."""

    def __init__(self, seed: int, size: int = POOL_SIZE):
        gen = torch.Generator().manual_seed(seed)
        # One 64-bit draw gives four 16-bit numbers: 4x fewer (slow, serial) generator calls.
        words = torch.randint(-2**63, 2**63 - 1, (size // 4,), dtype=torch.int64, generator=gen)
        self.bits = words.view(torch.int16)

    def keep_mask(self, shape: torch.Size, p: float, dtype: torch.dtype) -> torch.Tensor | None:
        """A tensor of 0 and ``1 / (1 - p)`` of ``shape``, or None when it exceeds the pool."""
        n = shape.numel()
        if n > self.bits.numel():
            return None
        offset, flip = torch.randint(0, 2**31 - 1, (2,)).tolist()
        offset %= self.bits.numel() - n + 1
        flip = torch.tensor((flip & 0xFFFF) - 32768, dtype=torch.int16)
        threshold = round(p * 65536) - 32768
        window = torch.bitwise_xor(self.bits[offset:offset + n], flip)
        return window.ge_(threshold).view(shape).to(dtype).mul_(1.0 / (1.0 - p))


class PooledDropout(nn.Module):
    """``nn.Dropout`` (same ``p``, same expectation) with its mask read from a :class:`MaskPool`."""

    def __init__(self, pool: MaskPool, p: float):
        super().__init__()
        self.pool, self.p = pool, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pooled_dropout(self.pool, x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def pooled_dropout(pool: MaskPool, x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p == 0.0:
        return x
    mask = pool.keep_mask(x.shape, p, x.dtype)
    return nn.functional.dropout(x, p, True) if mask is None else x * mask


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention for the transformers ``AttentionInterface``: SDPA when there is no dropout
    (evaluation); in training the same computation as SDPA's CPU path with dropout (which is
    the math path: scores, softmax, dropout, weighted sum), with the mask from the pool."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    pool = getattr(module, "_nerstudio_pool", None)
    if dropout == 0.0 or pool is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      scaling=scaling, dropout=dropout, **kwargs)
    if key.shape[1] != query.shape[1]:  # grouped-query attention: not in BERT-family encoders
        key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
        value = value.repeat_interleave(query.shape[1] // value.shape[1], dim=1)
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # True = attend (the SDPA mask format)
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    weights = pooled_dropout(pool, torch.softmax(scores, dim=-1), dropout, True)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def use_pooled_dropout(model: nn.Module, seed: int) -> int:
    """Swap the model's dropouts for pooled ones; returns how many were swapped. Attention
    dropout is swapped too when the model runs its attention through the transformers
    ``AttentionInterface`` with SDPA (BERT, DistilBERT, RoBERTa, ELECTRA, ... in transformers 5);
    the implementation name is not saved in the model's config (transformers drops it)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    pool = MaskPool(seed)
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Dropout) and child.p > 0:
                setattr(parent, name, PooledDropout(pool, child.p).train(child.training))
                swapped += 1
    config = getattr(model, "config", None)
    if (getattr(model, "_supports_attention_backend", False) and config is not None
            and config._attn_implementation == "sdpa"):
        AttentionInterface.register(ATTENTION, _attention)
        AttentionMaskInterface.register(ATTENTION, sdpa_mask)
        for module in model.modules():
            module._nerstudio_pool = pool
        config._attn_implementation = ATTENTION
    return swapped
