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


def make_trainer_class(sparse_embeddings: bool, labelled_rows_only: bool = False):
    """The ``transformers.Trainer`` nerstudio runs (built lazily: importing this module does not
    import transformers). Evaluation keeps the dev set's order (it is pre-sorted by length, and
    the metrics map predictions back to sentences by position; transformers 5 would otherwise
    shuffle it in length groups). With ``sparse_embeddings``, the optimizer and gradient clipping
    understand the word embedding's sparse gradient. Length-grouped batches come from
    ``batching.LengthGroupedOrder`` (less padding, shuffled batch order). With
    ``labelled_rows_only``, the last layer's feed-forward part trains on labelled subwords only
    (``pruning.py``; same loss and gradients)."""
    import torch.utils.data
    from transformers import Trainer

    class NerTrainer(Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pruner = None  # None also where the model's layout is not supported
            if labelled_rows_only:
                from .pruning import prune_last_layer

                self._pruner = prune_last_layer(self.model)

        def training_step(self, model, inputs, num_items_in_batch=None):
            if self._pruner is None or "labels" not in inputs:
                return super().training_step(model, inputs, num_items_in_batch)
            self._pruner.keep = inputs["labels"].to(self.args.device) != -100
            try:
                return super().training_step(model, inputs, num_items_in_batch)
            finally:
                self._pruner.keep = None

        def _get_eval_sampler(self, eval_dataset):
            return torch.utils.data.SequentialSampler(eval_dataset)

        def _get_train_sampler(self, train_dataset=None):
            dataset = self.train_dataset if train_dataset is None else train_dataset
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            from .batching import LengthGroupedOrder

            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return LengthGroupedOrder([len(dataset[i]["input_ids"]) for i in range(len(dataset))],
                                      self.args.train_batch_size, seed)

    if not sparse_embeddings:
        return NerTrainer

    class SparseEmbeddingTrainer(NerTrainer):
        def create_optimizer(self, model=None):
            if self.optimizer is None:
                opt_model = self.model if model is None else model
                decay = set(self.get_decay_parameter_names(opt_model))
                named = [(n, p) for n, p in opt_model.named_parameters() if p.requires_grad]
                groups = [{"params": [p for n, p in named if n in decay],
                           "weight_decay": self.args.weight_decay},
                          {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0}]
                self.optimizer = LazyAdamW(groups, lr=self.args.learning_rate,
                                           betas=(self.args.adam_beta1, self.args.adam_beta2),
                                           eps=self.args.adam_epsilon, fused=True)
            return self.optimizer

        def _clip_grad_norm(self, model):
            return clip_grad_norm(model.parameters(), self.args.max_grad_norm)

    return SparseEmbeddingTrainer
