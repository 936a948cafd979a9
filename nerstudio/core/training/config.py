"""Training configuration: the knobs of the reference recipe.

Batch size, learning rate, epochs, warm-up and early stopping default to ``None`` ("auto"): they
are chosen from the number of training sentences by :func:`.auto.auto_schedule` when the run
starts (:meth:`TrainConfig.resolved`), and the resolved values are what the run records."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

EMBEDDED_MODEL = "embedded"


def knob(default, help: str, *, kind=None, flags: tuple[str, ...] = (), choices=None,
         lo=None, hi=None, step=None, decimals=None, advanced: bool = False, cli: bool = True,
         label: str | None = None, form: bool = False, suggestions: tuple[str, ...] = (),
         everywhere: bool = False):
    """A TrainConfig field with what the CLI and the Train view need to offer it: the help text,
    the value kind (for "auto" fields whose default is None), choices or a range, and the
    command-line flags. One place for each hyperparameter's text and limits, read by every
    command that trains (cli_common.add_config_options), the Train view's form (``form``: a
    row labelled ``label``; ``suggestions``: an editable list's entries) and
    :meth:`TrainConfig.validate` (HfArgumentParser's idea: options generated from the
    dataclass). ``everywhere``: also an option of the commands that train models of their own
    (train-curve, review), not only of ``train``."""
    kind = kind or type(default)
    meta = {"help": help, "kind": kind, "flags": flags, "choices": choices, "lo": lo, "hi": hi,
            "step": step, "decimals": decimals, "advanced": advanced, "cli": cli,
            "label": label, "form": form,
            "suggestions": suggestions, "everywhere": everywhere}
    return field(default=default, metadata=meta)


AUTO_HELP = "; auto: chosen from the number of labelled train sentences (see auto.py)"


@dataclass
class TrainConfig:
    base_model: str = knob(EMBEDDED_MODEL, "'embedded' (the model shipped with nerstudio, "
                           "offline), a local model folder or a Hugging Face name",
                           label="Base model", everywhere=True)
    learning_rate: float | None = knob(None, "AdamW learning rate" + AUTO_HELP, kind=float,
                                       flags=("--lr", "--learning-rate"), lo=1e-7, hi=1e-2,
                                       step=1e-5, decimals=7,
                                       label="Learning rate", form=True, everywhere=True)
    batch_size: int | None = knob(None, "sentences per optimizer step" + AUTO_HELP, kind=int,
                                  lo=1, hi=1024, label="Batch size",
                                  form=True, everywhere=True)
    epochs: float | None = knob(None, "passes over the training sentences" + AUTO_HELP,
                                kind=float, lo=0.1, hi=1000, step=1, decimals=1, label="Epochs",
                                form=True, everywhere=True)
    seed: int = knob(42, "seed of the initialisation, batch order and dropout", lo=0, hi=2**31 - 1,
                     label="Seed", form=True, everywhere=True)
    adam_beta1: float = knob(0.9, "AdamW beta1", advanced=True, lo=0.0, hi=0.9999, decimals=4)
    adam_beta2: float = knob(0.999, "AdamW beta2", advanced=True, lo=0.0, hi=0.99999,
                             decimals=5)
    adam_epsilon: float = knob(1e-8, "AdamW epsilon", advanced=True, lo=1e-12, hi=1e-4,
                               decimals=12)
    weight_decay: float = knob(0.01, "AdamW weight decay (not on biases and layer norms)",
                               lo=0.0, hi=1.0, step=0.01, decimals=3,
                               label="Weight decay", form=True)
    warmup_ratio: float | None = knob(None, "share of the steps with a rising learning rate"
                                      "; auto: 10 % on small data, none on a corpus", kind=float,
                                      lo=0.0, hi=0.5, step=0.05, decimals=2,
                                      label="Warm-up ratio", form=True)
    early_stopping_patience: int | None = knob(
        None, "evaluations without a better dev F1 before stopping (0: never; the best model "
        "is kept); auto: 3 on small data, 0 on a corpus", kind=int, lo=0, hi=100,
        label="Early stopping", form=True)
    gradient_accumulation: int = knob(1, "batches summed per optimizer step (a larger "
                                      "effective batch in the same memory)",
                                      flags=("--grad-accum",), lo=1, hi=256,
                                      label="Gradient accumulation", form=True)
    mixed_precision: str = knob("auto", "GPU only: auto (bf16 where supported, else fp16), "
                                "no, bf16, fp16", choices=("auto", "no", "bf16", "fp16"),
                                label="Mixed precision", form=True)
    max_length: int = knob(128, "subwords per sequence; longer sentences are split, never "
                           "truncated", lo=16, hi=4096, everywhere=True)
    eval_every: str = knob("epoch", "evaluate dev F1 (and save a checkpoint) every 'epoch', "
                           "every N steps, or 'none'",
                           label="Evaluate every", form=True, suggestions=("epoch", "100", "500"))
    keep_best: bool = knob(True, "load the best checkpoint by dev F1 at the end", advanced=True)
    label_all_subwords: bool = knob(False, "train on every subword of a word, not only the "
                                    "first", advanced=True)
    batching: str = knob("length", "length: length-grouped batches (less padding); random: "
                         "the recipe's", choices=("length", "random"), advanced=True)
    sparse_embeddings: str = knob("auto", "CPU: sparse word-embedding updates (auto = on for "
                                  "CPU; never on a GPU)", choices=("auto", "on", "off"),
                                  advanced=True)
    eval_batch_size: int = knob(64, "sentences per evaluation batch", advanced=True, lo=1,
                                hi=4096)
    threads: int = knob(0, "CPU threads (0: all cores)", advanced=True, lo=0, hi=512)
    keep_core_free: bool = knob(False, "leave one CPU core to the app", everywhere=True)
    max_steps: int = knob(-1, "stop after this many optimizer steps (-1: by epochs)",
                          advanced=True, lo=-1, hi=10**9)
    logging_steps: int = knob(0, "steps between loss points (0: about 100 per run)",
                              advanced=True, lo=0, hi=10**6)
    save_total_limit: int = knob(2, "checkpoints kept on disk", advanced=True, lo=1, hi=100)
    checkpoint_minutes: float = knob(10.0, "also save a checkpoint this often, so a kill loses "
                                     "little (0: only at evaluations)", lo=0.0, hi=1440.0)
    continue_from: str = knob("", "a finished run to continue from (its folder, or its number "
                              "in a project): its model is the base, and the run learns the "
                              "sentences new since it plus a replay of as many old ones, in "
                              "about a third of the steps (incremental.py; Keep the model fresh)",
                              advanced=True)
    dev_fraction: float = knob(0.1, "share of train held out (seeded) when there is no dev "
                               "split", advanced=True, lo=0.0, hi=0.5, decimals=2)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    AUTO_FIELDS = ("learning_rate", "batch_size", "epochs", "warmup_ratio",
                   "early_stopping_patience")

    def auto_fields(self) -> list[str]:
        return [name for name in self.AUTO_FIELDS if getattr(self, name) is None]

    def resolved(self, n_train: int, processes: int = 1) -> "TrainConfig":
        """A copy with every "auto" field filled in for ``n_train`` training sentences. The
        evaluation interval follows the schedule too when it was left at "epoch" (a long
        schedule on little data evaluates every few epochs, not every one). ``processes``: the
        ranks of a distributed run; the batch is their global batch (an auto batch becomes a
        multiple of them)."""
        from .auto import auto_schedule

        auto = self.auto_fields()
        if not auto:
            return self
        s = auto_schedule(n_train, self.batch_size, self.gradient_accumulation, processes)
        sized = self.epochs is None and self.max_steps <= 0  # the schedule sets the length
        values = {"learning_rate": s.learning_rate, "batch_size": s.batch_size,
                  "epochs": s.epochs if self.max_steps <= 0 else 1.0,
                  # warm-up and early stopping belong to the size-aware schedule; a user who
                  # fixed the epochs (or steps) gets the recipe's: none of either
                  "warmup_ratio": s.warmup_ratio if sized else 0.0,
                  "early_stopping_patience": s.patience if sized else 0}
        out = replace(self, **{k: values[k] for k in auto})
        if sized and self.eval_every == "epoch":
            out.eval_every = s.eval_every
        return out

    def validate(self) -> list[str]:
        """What is wrong with a resolved config, in words: every field's choices and range
        from its metadata (the limits the CLI and the form offer), then the rules between
        fields."""
        missing = self.auto_fields()
        if missing:
            return [f"unresolved auto value(s): {', '.join(missing)} (call resolved() first)"]
        problems = [p for f in fields(self) if (p := _field_problem(f, getattr(self, f.name)))]
        if self.epochs <= 0 and self.max_steps <= 0:
            problems.append("epochs must be positive")
        if self.eval_every not in ("epoch", "none") and not str(self.eval_every).isdigit():
            problems.append("eval_every must be 'epoch', 'none' or a number of steps")
        return problems


def _field_problem(f, value) -> str | None:
    """One field's value against its metadata: a choice outside ``choices`` or a number
    outside ``lo``..``hi``."""
    m, name = f.metadata, f.name.replace("_", " ")
    if m.get("choices") and value not in m["choices"]:
        return f"{name} must be one of {', '.join(m['choices'])} (not {value!r})"
    lo, hi = m.get("lo"), m.get("hi")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and \
            f.name != "epochs" and lo is not None and hi is not None and not lo <= value <= hi:
        return f"{name} must be between {lo:g} and {hi:g} (not {value:g})"
    return None
