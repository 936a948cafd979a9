"""Sparse word-embedding updates for CPU training.

The word-embedding matrix is about half of a small BERT (30k rows x 384), yet a batch touches a few
hundred rows. A dense gradient means zero-filling, accumulating, clipping and Adam-updating all
30k rows every step: about a fifth of a CPU step. With ``nn.Embedding(sparse=True)`` the gradient
holds only the touched rows, and :class:`LazyAdamW` applies AdamW to those rows only (the "lazy
Adam" of TensorFlow Addons / ``torch.optim.SparseAdam``, with decoupled weight decay). Every other
parameter gets the standard ``torch.optim.AdamW`` update, unchanged.
"""
from __future__ import annotations

import torch


class LazyAdamW(torch.optim.AdamW):
    """AdamW that updates parameters with sparse gradients row-wise (touched rows only)."""

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        sparse = []
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None and p.grad.is_sparse:
                        self._sparse_update(p, group)
                        sparse.append((p, p.grad))
                        p.grad = None  # the dense kernel skips it
            super().step()
            for p, g in sparse:
                p.grad = g
        return loss

    def _sparse_update(self, p, group):
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        grad = p.grad.coalesce()
        idx, values = grad.indices()[0], grad.values()
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        step = float(state["step"])
        m = state["exp_avg"][idx].mul_(beta1).add_(values, alpha=1 - beta1)
        v = state["exp_avg_sq"][idx].mul_(beta2).addcmul_(values, values, value=1 - beta2)
        state["exp_avg"][idx] = m
        state["exp_avg_sq"][idx] = v
        denom = (v / (1 - beta2 ** step)).sqrt_().add_(eps)
        rows = p[idx].mul_(1 - lr * wd).addcdiv_(m, denom, value=-lr / (1 - beta1 ** step))
        p[idx] = rows


def clip_grad_norm(parameters, max_norm: float) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_`` that also handles sparse gradients (coalesced first,
    so a row seen twice in a batch counts once with its summed gradient)."""
    params = [p for p in parameters if p.grad is not None]
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    dense = [p.grad for p in params if not p.grad.is_sparse]
    sparse = [p.grad for p in params if p.grad.is_sparse]
    norms = list(torch._foreach_norm(dense)) if dense else []
    norms += [g._values().norm() for g in sparse]
    if not norms:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack(norms))
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        if dense:
            torch._foreach_mul_(dense, coef)
        for g in sparse:
            g._values().mul_(coef)
    return total
