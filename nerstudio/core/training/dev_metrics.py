"""The dev F1 a run reports, scored as the saved model will be used: word level, seqeval.

The Trainer evaluates subword rows of the (length-sorted) dev set; these map each row's
first-subword predictions back to the words of its sentence, so the reported scores are those
of whole sentences, per label and with the confusion kept for the GUI. Apart from the Trainer's
construction because this is what "dev F1" means, and tests read it on its own.
"""
from __future__ import annotations

from .data import entity_metrics


def word_tags(feats, label_rows, pred_rows, examples, tags, first_masks):
    """Rebuild word-level gold / predicted tags per sentence from chunked subword rows."""
    gold = [list(e.tags) for e in examples]
    pred = [["O"] * len(e.tags) for e in examples]
    for f, labels, preds, mask in zip(feats, label_rows, pred_rows, first_masks):
        w = f["first_word"]
        for j, is_first in enumerate(mask):
            if is_first and j < len(preds):
                pred[f["example"]][w] = tags[int(preds[j])]
                w += 1
    return gold, pred


def argmax(logits, labels):
    """preprocess_logits_for_metrics: keep the predicted ids, not the whole logits tensor."""
    return logits.argmax(-1)


class DevMetrics:
    """compute_metrics: word-level seqeval on the dev set (per-label and confusion kept in the
    run's ``details``)."""

    def __init__(self, run, dev_feats):
        self.run, self.feats = run, dev_feats
        self.masks = [[lab != -100 for lab in f["labels"]] for f in dev_feats]

    def __call__(self, p):
        data = self.run.data
        gold, pred = word_tags(self.feats, p.label_ids, p.predictions, data.dev, data.tags,
                               self.masks)
        m = entity_metrics(gold, pred)
        self.run.details["per_label"], self.run.details["confusion"] = \
            m.pop("per_label"), m.pop("confusion")
        return m
