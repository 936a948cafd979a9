"""Pooled dropout masks (training/dropout.py): same statistics and gradients as nn.Dropout,
reproducible from the seed, and the swapped model computes what the original does."""
import json

import pytest

torch = pytest.importorskip("torch")

from nerstudio.core.training.dropout import (ATTENTION, MaskPool, PooledDropout,  # noqa: E402
                                             _attention, use_pooled_dropout)


@pytest.fixture(scope="module")
def pool():
    return MaskPool(42, size=1 << 20)


def test_masks_keep_one_minus_p_scaled_like_nn_dropout(pool):
    torch.manual_seed(0)
    mask = pool.keep_mask(torch.Size([400, 1000]), 0.1, torch.float32)
    assert mask.unique().tolist() == pytest.approx([0.0, 1 / 0.9])
    kept = (mask > 0).float()
    assert kept.mean().item() == pytest.approx(0.9, abs=0.003)
    # independent elements: neighbours are both dropped about p^2 of the time
    both = ((kept[:, 1:] == 0) & (kept[:, :-1] == 0)).float().mean().item()
    assert both == pytest.approx(0.01, abs=0.002)
    assert mask.mean().item() == pytest.approx(1.0, abs=0.005)  # expectation preserved


def test_successive_masks_differ_and_runs_repeat_from_the_seed(pool):
    torch.manual_seed(1)
    first = [pool.keep_mask(torch.Size([64, 384]), 0.1, torch.float32) for _ in range(3)]
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    agreement = (first[0] > 0).eq(first[1] > 0).float().mean().item()
    assert agreement == pytest.approx(0.82, abs=0.02)  # 0.9^2 + 0.1^2: unrelated masks
    torch.manual_seed(1)
    again = [MaskPool(42, size=1 << 20).keep_mask(torch.Size([64, 384]), 0.1, torch.float32)
             for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_gradient_flows_through_kept_elements_only(pool):
    layer = PooledDropout(pool, 0.25).train()
    x = torch.randn(32, 50, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    scale = y.detach() / x.detach()
    assert torch.allclose(x.grad, scale)
    assert set(torch.round(scale * 1e4).unique().tolist()) <= {0.0, round(1e4 / 0.75)}
    layer.eval()
    assert layer(x) is x


def test_a_mask_larger_than_the_pool_falls_back_to_torch_dropout():
    small = MaskPool(0, size=64)
    assert small.keep_mask(torch.Size([100]), 0.1, torch.float32) is None
    y = PooledDropout(small, 0.5).train()(torch.ones(10_000))
    assert 0.45 < (y > 0).float().mean().item() < 0.55


def test_training_attention_matches_sdpa_with_a_padding_mask(pool):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    module = torch.nn.Module()
    module.is_causal, module._nerstudio_pool = False, pool
    q, k, v = (torch.randn(3, 2, 7, 8) for _ in range(3))
    mask = torch.ones(3, 1, 7, 7, dtype=torch.bool)
    mask[1, :, :, 5:] = False  # second sentence is padded after 5 subwords
    mask[2, :, :, 3:] = False
    want, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0)
    # p so small that nothing is dropped: the math path alone is compared
    got, weights = _attention(module, q, k, v, mask, dropout=1e-9)
    assert torch.allclose(got, want, atol=1e-5)
    assert weights[1, :, :, 5:].abs().max().item() == 0.0


def test_swapped_model_evaluates_like_the_original_and_saves_a_plain_config(tmp_path):
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=3, attn_implementation="sdpa")
    torch.manual_seed(0)
    model = BertForTokenClassification(config)
    ids = torch.randint(5, 50, (4, 9))
    attention = torch.ones_like(ids)
    attention[2, 6:] = 0
    model.eval()
    before = model(input_ids=ids, attention_mask=attention).logits
    dropouts = sum(isinstance(m, torch.nn.Dropout) for m in model.modules())
    assert use_pooled_dropout(model, seed=42) == dropouts
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    assert model.config._attn_implementation == ATTENTION
    assert torch.allclose(model(input_ids=ids, attention_mask=attention).logits, before, atol=1e-6)
    model.train()
    torch.manual_seed(3)
    a = model(input_ids=ids, attention_mask=attention).logits
    b = model(input_ids=ids, attention_mask=attention).logits
    assert not torch.allclose(a, b) and not torch.allclose(a, before)
    a.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.save_pretrained(tmp_path)
    assert ATTENTION not in json.dumps(json.loads((tmp_path / "config.json").read_text()))
