"""Length-grouped training order (training/batching.py) and its use by nerstudio's Trainer."""
import random

import pytest

torch = pytest.importorskip("torch")

from nerstudio.core.training.batching import LengthGroupedOrder, length_grouped_order  # noqa: E402


def lengths_like_conll(n=5000, seed=0):
    rng = random.Random(seed)
    return [min(128, 3 + int(rng.expovariate(1 / 17))) for _ in range(n)]


def padded(lengths, order, bs):
    return sum(max(lengths[i] for i in order[k:k + bs]) * len(order[k:k + bs])
               for k in range(0, len(order), bs))


def test_order_is_a_permutation_with_less_padding_than_transformers():
    from transformers.trainer_pt_utils import get_length_grouped_indices

    lengths, bs = lengths_like_conll(), 16
    torch.manual_seed(42)
    order = length_grouped_order(lengths, bs)
    assert sorted(order) == list(range(len(lengths)))
    torch.manual_seed(42)
    theirs = get_length_grouped_indices(lengths, bs)
    real = sum(lengths)
    ours_pad, theirs_pad = padded(lengths, order, bs) / real, padded(lengths, theirs, bs) / real
    random_pad = padded(lengths, list(range(len(lengths))), bs) / real
    assert ours_pad < theirs_pad < random_pad
    assert ours_pad < 1.03


def test_batches_are_shuffled_longest_first_and_seeded():
    lengths, bs = lengths_like_conll(3000), 8
    torch.manual_seed(7)
    order = length_grouped_order(lengths, bs, window_batches=20)
    batches = [order[k:k + bs] for k in range(0, len(order), bs)]
    maxima = [max(lengths[i] for i in b) for b in batches]
    assert maxima[0] == max(lengths)
    ups = sum(b > a for a, b in zip(maxima[1:-1], maxima[2:-1]))
    downs = sum(b < a for a, b in zip(maxima[1:-1], maxima[2:-1]))
    assert ups > len(batches) / 4 and downs > len(batches) / 4  # no long-to-short sweeps
    assert all(len(b) == bs for b in batches[:-1])
    torch.manual_seed(7)
    assert length_grouped_order(lengths, bs, window_batches=20) == order
    assert length_grouped_order(lengths, bs, window_batches=20) != order  # next epoch differs


def test_the_trainer_draws_its_batches_from_it(tiny_bert, tmp_path):
    from transformers import (AutoModelForTokenClassification, AutoTokenizer,
                              DataCollatorForTokenClassification, TrainingArguments)

    from nerstudio.core.training.recipe import ListDataset as _ListDataset
    from nerstudio.core.training.trainer import make_trainer_class

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    model = AutoModelForTokenClassification.from_pretrained(tiny_bert, num_labels=3)
    lengths = lengths_like_conll(200)
    feats = [{"input_ids": [5] * n, "attention_mask": [1] * n, "labels": [0] * n} for n in lengths]
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8,
                             train_sampling_strategy="group_by_length", use_cpu=True, report_to=[])
    trainer = make_trainer_class(True)(model=model, args=args, train_dataset=_ListDataset(feats),
                                       data_collator=DataCollatorForTokenClassification(tok))
    assert isinstance(trainer._get_train_sampler(), LengthGroupedOrder)
    batches = [sorted(b["attention_mask"].sum(1).tolist(), reverse=True)
               for b in trainer.get_train_dataloader()]
    # 25 batches fit in one window: the batches are the sorted lengths cut in eights, shuffled
    ranked = sorted(lengths, reverse=True)
    assert sorted(batches) == sorted(ranked[k:k + 8] for k in range(0, 200, 8))
    assert batches[0] == ranked[:8] and batches != sorted(batches, reverse=True)
