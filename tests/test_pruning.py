"""Last-layer pruning (training/pruning.py): same loss and gradients, less work."""
import pytest

torch = pytest.importorskip("torch")

from nerstudio.core.training.pruning import last_layer, prune_last_layer  # noqa: E402


def _model(tiny_bert, dropout=0.0):
    from transformers import AutoModelForTokenClassification

    torch.manual_seed(0)
    return AutoModelForTokenClassification.from_pretrained(
        tiny_bert, num_labels=5, hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout).train()


def _batch():
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 40, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    labels = torch.randint(0, 5, (3, 9), generator=g)
    labels[:, 0] = -100                      # [CLS]
    labels[0, 2] = labels[0, 8] = -100       # continuation subword, [SEP]
    labels[mask == 0] = -100                 # padding
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()
                         if p.grad is not None}


def test_same_loss_and_gradients_as_the_whole_layer(tiny_bert):
    full_model, pruned_model = _model(tiny_bert), _model(tiny_bert)
    batch = _batch()
    full_loss, full_grads = _loss_and_grads(full_model, batch)
    pruner = prune_last_layer(pruned_model)
    assert pruner is not None
    seen = []
    last_layer(pruned_model).intermediate.register_forward_hook(
        lambda m, args, out: seen.append(args[0].shape[:-1]))
    pruner.keep = batch["labels"] != -100
    loss, grads = _loss_and_grads(pruned_model, batch)
    assert seen == [torch.Size([1, int((batch["labels"] != -100).sum())])]  # fewer rows
    assert loss == pytest.approx(full_loss, rel=1e-6)
    assert grads.keys() == full_grads.keys()
    for name, g in grads.items():
        torch.testing.assert_close(g, full_grads[name], rtol=1e-5, atol=1e-6, msg=name)


def test_off_without_a_mask_and_in_evaluation(tiny_bert):
    model = _model(tiny_bert)
    pruner = prune_last_layer(model)
    batch = _batch()
    seen = []
    last_layer(model).intermediate.register_forward_hook(
        lambda m, args, out: seen.append(args[0].shape[:-1]))
    model(**batch)                           # no mask set: whole layer
    pruner.keep = batch["labels"] != -100
    model.eval()
    with torch.no_grad():
        model(**batch)                       # evaluation: whole layer
    assert seen == [torch.Size([3, 9])] * 2


def test_other_layouts_are_left_alone():
    from transformers import DistilBertConfig, DistilBertForTokenClassification

    config = DistilBertConfig(vocab_size=50, dim=32, n_layers=1, n_heads=2, hidden_dim=64)
    assert prune_last_layer(DistilBertForTokenClassification(config)) is None


def test_the_trainer_prunes_while_training(tiny_bert, tmp_path):
    from transformers import AutoTokenizer, DataCollatorForTokenClassification, TrainingArguments

    from nerstudio.core.training.engine import _ListDataset
    from nerstudio.core.training.trainer import make_trainer_class

    model = _model(tiny_bert)
    rows = []
    last_layer(model).intermediate.register_forward_hook(
        lambda m, args, out: rows.append(args[0].shape[:-1].numel()))
    feats = [{"input_ids": [2, 7, 8, 9, 3], "attention_mask": [1] * 5,
              "labels": [-100, 1, -100, 2, -100]}] * 4
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4,
                             max_steps=1, use_cpu=True, report_to=[], save_strategy="no")
    trainer = make_trainer_class(True, labelled_rows_only=True)(
        model=model, args=args, train_dataset=_ListDataset(feats),
        data_collator=DataCollatorForTokenClassification(AutoTokenizer.from_pretrained(tiny_bert)))
    trainer.train()
    assert rows == [8]  # 4 sentences x 2 labelled subwords, not 4 x 5
