"""The ``transformers.Trainer`` nerstudio runs: the stock Trainer plus what a run needs.

Built lazily by :func:`make_trainer_class` (importing this module does not import transformers):
evaluation keeps the dev set's order; length-grouped batches come from ``batching.py``; on a CPU
only, the word embedding's sparse gradient (``sparse.py``) is wired in.
"""
from __future__ import annotations

from .sparse import LazyAdamW, clip_grad_norm


def make_trainer_class(sparse_embeddings: bool):
    """The ``transformers.Trainer`` nerstudio runs (built lazily: importing this module does not
    import transformers). Evaluation keeps the dev set's order (it is pre-sorted by length, and
    the metrics map predictions back to sentences by position; transformers 5 would otherwise
    shuffle it in length groups). With ``sparse_embeddings``, the optimizer and gradient clipping
    understand the word embedding's sparse gradient. Length-grouped batches come from
    ``batching.LengthGroupedOrder`` (less padding, shuffled batch order)."""
    import torch.utils.data
    from transformers import Trainer

    class NerTrainer(Trainer):
        def _get_eval_sampler(self, eval_dataset):
            return torch.utils.data.SequentialSampler(eval_dataset)

        def _get_train_sampler(self, train_dataset=None):
            dataset = self.train_dataset if train_dataset is None else train_dataset
            if self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            from .batching import LengthGroupedOrder

            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            # grouped by the global batch: under DDP, Accelerate hands each rank consecutive
            # per-device slices of this order, so one optimizer step sees one length group (the
            # very batch a single process would see)
            return LengthGroupedOrder([len(dataset[i]["input_ids"]) for i in range(len(dataset))],
                                      self.args.train_batch_size * self.args.world_size, seed)

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
