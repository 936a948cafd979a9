"""Length-bucketed training order: batches of sentences of similar length, in random order.

transformers' ``group_by_length`` sorts windows of 50 batches by length and then trains each window
from its longest batch to its shortest: about 4 % of a CoNLL-2003 epoch is still padding, and the
order within a window is a long-to-short sweep. Sorting windows of 200 batches leaves about 1.5 %
padding; the batches are then shuffled over the whole epoch, so no sweep remains. The longest batch
still comes first, so a batch size too large for the memory fails at once rather than late.
Each epoch's order is drawn from its own generator seeded from (seed, epoch), never from torch's
global one: the Trainer builds a resumed epoch's order *before* it restores the checkpoint's global
RNG state, so a global draw would give the resumed epoch another order (sentences repeated and
skipped). With its own generator the order is a pure function of (seed, epoch), and a resumed run
sees exactly the batches the uninterrupted run would have.
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


def epoch_generator(seed: int, epoch: int):
    """A generator whose draws depend only on (seed, epoch)."""
    import torch

    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class LengthGroupedOrder:
    """A ``torch.utils.data.Sampler`` over :func:`length_grouped_order`: a new order each epoch,
    told by ``set_epoch`` (the Trainer / Accelerate call it at the start of every epoch)."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 42):
        self.lengths, self.batch_size, self.seed = list(lengths), batch_size, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = epoch_generator(self.seed, self.epoch)
        return iter(length_grouped_order(self.lengths, self.batch_size, generator=generator))
