"""Cancel + resume continues exactly: the same final weights as an uninterrupted run."""
import torch
from safetensors.torch import load_file

from nerstudio.core.training import Cancelled, Finished, Step, TrainingData, train
from nerstudio.core.training.batching import LengthGroupedOrder

from .test_training import TAGS, TRAIN, tiny_config


def test_each_epoch_order_depends_only_on_seed_and_epoch():
    lengths = [3, 9, 4, 7, 7, 2, 8, 5, 6, 1] * 5
    sampler = LengthGroupedOrder(lengths, 4, seed=1)
    sampler.set_epoch(2)
    torch.manual_seed(0)
    first = list(sampler)
    torch.manual_seed(123)  # the global generator has no say
    torch.rand(10)
    assert list(sampler) == first
    sampler.set_epoch(3)
    assert list(sampler) != first and sorted(sampler) == sorted(first)


def test_cancel_and_resume_give_the_uninterrupted_weights(tiny_bert, tmp_path):
    cfg = tiny_config(tiny_bert, epochs=3, logging_steps=1, eval_every="none")
    data = TrainingData(TRAIN, TRAIN[:6], TAGS)
    whole = train(data, cfg, tmp_path / "whole")
    assert isinstance(whole, Finished), whole

    steps = []
    cancelled = train(data, cfg, tmp_path / "split",
                      lambda e: isinstance(e, Step) and steps.append(e.step),
                      should_stop=lambda: len(steps) >= 7)  # mid-way through the second epoch
    assert isinstance(cancelled, Cancelled) and 5 < cancelled.step < 10
    resumed = train(None, cfg, tmp_path / "split", resume=True)
    assert isinstance(resumed, Finished), resumed
    assert resumed.steps == whole.steps

    a = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    b = load_file(tmp_path / "split" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst < 1e-5, f"resumed weights differ by up to {worst}"
