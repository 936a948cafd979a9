"""The use cases both doors call: the command line (cli.py) and the app's views (ui/).

Why one layer: the same action once behaved differently by door. The app's Train trained,
scored the run on the test split and made it active; ``nerstudio train`` only trained. The
app's review started from the active run's base model, ``nerstudio review`` from the embedded
one. "One training at a time" was checked in four places of the app and nowhere in the CLI.
Each rule is now stated once here, and both doors call it:

- :func:`train`: take the project's training slot (``slot.py``), refuse a run that cannot
  start before a run row exists, train, score the finished run on the test split, and decide
  whether it is published (:func:`publish_decision`); :func:`train_and_publish` also applies
  the decision (the CLI; the app applies it through its session, so its views hear of it);
- :func:`publish_decision`: a finished run becomes the active model unless it scores worse
  than the active one on the project's dev split, unchanged since the active run started;
- :func:`review`: the label-error review, from :func:`review_base_model`, in the slot;
- :func:`train_curve`: the train curve, in the slot;
- :func:`suggest`: pre-annotation (suggestions and the active-learning order) with the
  active run's model unless another is named (:func:`prediction_model`);
- :func:`rank`: the active-learning order alone, refreshed with the active model.

Everything here is Qt-free and takes a project path (each call opens its own store: workers
run on threads of their own).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

from .domain import LABELLED
from .errors import NerStudioError, StoreError
from .slot import training_slot
from .store import ProjectStore


@dataclass
class TrainResult:
    """What a training use case ends with: the run, its final event, whether it should become
    the active model (and why not), and its test scores when the project has a test split."""

    run_id: int | None
    event: object
    publish: bool = False
    why_not: str = ""
    test: dict | None = field(default=None, repr=False)

    def __iter__(self):
        """Unpacks as a run's ``(run id, final event)``, as the training functions return."""
        return iter((self.run_id, self.event))


def cannot_train(store: ProjectStore) -> str | None:
    """Why a new run would have nothing to learn from, or None; checked before a run row
    exists (so a refused run costs under a second and leaves nothing behind)."""
    if not store.label_set().names:
        return ("the project has no entity types yet: add labels first, then label some "
                "sentences")
    if store.count(split="train", status=LABELLED) == 0 and \
            store.count(split="unassigned", status=LABELLED) == 0:
        return ("nothing to train on yet: no sentence is labelled (label some, then train)")
    return None


def train_sizes(store: ProjectStore, config) -> tuple[int, int]:
    """(train, dev) sentences a new run will train and evaluate on: the snapshot's labelled
    sentences (``runs.snapshot``), with dev held out as the engine does when there is none."""
    from .training.data import held_out

    n_train = (store.count(split="train", status=LABELLED)
               + store.count(split="unassigned", status=LABELLED))
    n_dev = store.count(split="dev", status=LABELLED)
    moved = held_out(n_train, n_dev, config.dev_fraction)
    return n_train - moved, n_dev + moved


def publish_decision(store: ProjectStore, run_id: int) -> tuple[bool, str]:
    """A finished run replaces the active model unless it scores worse on the same dev set.
    The same set: the project's dev split unchanged since the active run started; or, without
    a dev split, the same seeded share held out of train (the same training sentences, seed
    and dev fraction: the engine's hold-out is then the same sentences). When the sets differ
    (dev edited, sentences labelled since) the scores are not comparable, and the new run
    replaces the old."""
    try:
        active = store.meta("active_run")
        if active is None or active == run_id:
            return True, ""
        current, new_run = store.run(active), store.run(run_id)
        if not _same_dev_set(store, current, new_run):
            return True, ""
        new, old = new_run.get("best_f1"), current.get("best_f1")
    except (NerStudioError, sqlite3.Error):
        return True, ""
    if new is None or old is None or new >= old:
        return True, ""
    return False, f"dev F1 {new:.3f} is below the active run {active}'s {old:.3f}"


def _same_dev_set(store: ProjectStore, old_run: dict, new_run: dict) -> bool:
    """Whether two runs were scored on the same dev sentences (see :func:`publish_decision`)."""
    since = old_run.get("created_at")
    if not since:
        return False
    if store.count(split="dev", status=LABELLED):
        return not store.split_changed_since("dev", since)
    old, new = old_run.get("config") or {}, new_run.get("config") or {}
    same_draw = all(old.get(k) == new.get(k) for k in ("seed", "dev_fraction"))
    return same_draw and not any(store.split_changed_since(split, since)
                                 for split in ("train", "unassigned", "dev"))


def score_on_test(project: str | Path, run_id: int, emit: Callable[[object], None],
                  should_stop: Callable[[], bool], threads: int = 0) -> dict | None:
    """Score a finished run on the test split when it has labelled sentences (stored with the
    run). A failure here is reported as a line of text: the run itself succeeded."""
    from .evaluation import SplitEvaluated, SplitEvaluationStarted, evaluate_run

    try:
        with ProjectStore(project, read_only=True) as store:
            n_test = store.count(split="test", status=LABELLED)
        if not n_test or should_stop():
            return None
        emit(SplitEvaluationStarted(run_id, "test", n_test))
        metrics = evaluate_run(project, run_id, "test", should_stop=should_stop,
                               threads=threads)
        emit(SplitEvaluated(run_id, "test", metrics))
        return metrics
    except Exception as exc:  # noqa: BLE001 - the run itself succeeded
        emit(f"Run {run_id} finished, but scoring it on the test split failed: {exc}")
        return None


def train(project: str | Path, config, on_event: Callable[[object], None] = lambda e: None,
          should_stop: Callable[[], bool] = lambda: False, resume_run: int | None = None, *,
          what: str = "a training run", threads: int = 0, run: Callable | None = None,
          slot: bool = True, data=None) -> TrainResult:
    """Train on the project (or resume a run of it) in its training slot, score the finished
    run on the test split, and decide whether to publish it (:func:`conclude`). ``run``: the
    training itself (default ``runs.train_project``; the app's "Use all N GPUs" passes the
    launcher, whose command takes the slot itself: ``slot=False``). ``data``: train on these
    examples instead of the project's snapshot (``nerstudio train P --data F``)."""
    from .runs import train_project, unassigned_note

    with training_slot(project, what) if slot else nullcontext():
        if resume_run is None:
            with ProjectStore(project, read_only=True) as store:
                reason = None if data is not None else cannot_train(store)
                note = None if data is not None else unassigned_note(store)
                config = _continue_from_folder(store, config)
            if reason:
                raise StoreError(f"{project}: {reason}")
            if note:
                on_event(note)
        run = run or (lambda *a: train_project(*a, resume_run=resume_run, data=data))
        run_id, event = run(project, config, on_event, should_stop)
        return conclude(project, run_id, event, on_event, should_stop, threads)


def _continue_from_folder(store: ProjectStore, config):
    """``continue_from`` given as a run number (``--continue-from 3``): that run's folder."""
    value = config.continue_from
    if not value.isdigit():
        return config
    from .runs import run_folder

    return replace(config, continue_from=str(run_folder(store, int(value))))


def conclude(project: str | Path, run_id: int | None, event, on_event=lambda e: None,
             should_stop=lambda: False, threads: int = 0) -> TrainResult:
    """After a run: a finished one is scored on the test split and judged by the publish rule
    (not yet applied: see :func:`apply`)."""
    from .training import Finished

    result = TrainResult(run_id, event)
    if isinstance(event, Finished) and run_id is not None and not should_stop():
        judge(project, result, on_event, should_stop, threads)
    return result


def judge(project: str | Path, result: TrainResult, on_event=lambda e: None,
          should_stop=lambda: False, threads: int = 0) -> TrainResult:
    """Score a finished run on the test split and fill in the publish decision (the launcher
    of ``--processes N`` calls this once its ranks have finished the run)."""
    result.test = score_on_test(project, result.run_id, on_event, should_stop, threads)
    with ProjectStore(project, read_only=True) as store:
        result.publish, result.why_not = publish_decision(store, result.run_id)
    return result


def activate(store: ProjectStore, run_id: int | None) -> None:
    """Make a finished run's model the active one (None: no active model); a run whose model
    folder is missing (moved or deleted) is refused in one line. The app's Make active and
    ``nerstudio runs P --activate N`` both come here."""
    from .runs import model_dir

    if run_id is not None:
        folder = model_dir(store, run_id)
        if not folder.is_dir():
            raise StoreError(f"run {run_id}: its model folder {folder} is missing "
                             "(moved or deleted?)")
    store.set_meta("active_run", run_id)


def apply(project: str | Path, result: TrainResult) -> bool:
    """Apply the publish decision of :func:`train` / :func:`conclude` (the command line; the app
    applies it through its session so that its views hear of it). True when it published."""
    if not result.publish:
        return False
    with ProjectStore(project) as store:
        activate(store, result.run_id)
    return True


def train_and_publish(project: str | Path, config, on_event=lambda e: None,
                      should_stop=lambda: False, resume_run: int | None = None,
                      data=None) -> TrainResult:
    """:func:`train`, then its decision applied: the command line's ``nerstudio train``."""
    result = train(project, config, on_event, should_stop, resume_run, data=data)
    apply(project, result)
    return result


def review_base_model(store: ProjectStore, active_run: int | None) -> str | None:
    """The base model for the review's folds: the active run's own base model unless it is a
    model of this project's runs (it would have seen the held-out gold); None: the default."""
    from .paths import runs_dir

    if active_run is None:
        return None
    try:
        base = store.run(active_run).get("base_model")
    except (NerStudioError, sqlite3.Error):
        return None
    if not base:
        return None
    runs = runs_dir(store.path).resolve()
    path = Path(base)
    if path.exists() and (runs == path.resolve() or runs in path.resolve().parents):
        return None
    return base


def review_config(project: str | Path, config, base_model_given: bool):
    """The review's config: the active run's base model (see :func:`review_base_model`) unless
    the caller named one."""
    import dataclasses

    if base_model_given:
        return config
    with ProjectStore(project, read_only=True) as store:
        base = review_base_model(store, store.meta("active_run"))
    return dataclasses.replace(config, base_model=base) if base else config


def review(project: str | Path, config, k: int, on_event=lambda e: None,
           should_stop=lambda: False, *, base_model_given: bool = False, **options):
    """The label-error review in the project's training slot, from the base model its rule
    picks. ``options``: :func:`review.review_project`'s (store_flags, repeats, ...)."""
    from .review import review_project

    with training_slot(project, "the label-error review"):
        return review_project(project, review_config(project, config, base_model_given), k=k,
                              on_event=on_event, should_stop=should_stop, **options)


def train_curve(project: str | Path, fractions, config, on_event=lambda e: None,
                should_stop=lambda: False):
    """The train curve in the project's training slot (nothing recorded in the project)."""
    from .curve import train_curve as curve

    with training_slot(project, "the train curve"):
        return curve(project, fractions, config, on_event, should_stop)


@dataclass
class Suggested:
    """What :func:`suggest` did: sentences given suggestions, the run whose model made them, and
    the predicted entities not stored because the project lacks their label (label -> count)."""

    sentences: int
    run_id: int | None
    skipped: dict[str, int] = field(default_factory=dict)


def prediction_model(project: str | Path | None, model: str | None) -> tuple[str, int | None]:
    """(model folder or name, run id) for predicting: ``None`` is the project's active model
    (the app's rule), a number is that run's model, anything else a folder, ``embedded`` or a
    Hugging Face id (checked now, in one line, rather than after the hub's retries)."""
    from .hub import check_hub_model, hub_id
    from .runs import model_dir

    if model is None or model.isdigit():
        if not project:
            raise NerStudioError("a run number needs --project")
        with ProjectStore(project, read_only=True) as store:
            run_id = int(model) if model is not None else store.meta("active_run")
            if run_id is None:
                raise StoreError(f"{project}: no active model yet: train one first "
                                 "(nerstudio train, or the app's Train), or name one with --model")
            return str(model_dir(store, run_id)), run_id
    if model != "embedded" and not Path(model).exists():
        if not hub_id(model):
            raise NerStudioError(f"{model}: no such model folder")
        check_hub_model(model)
    return model, None


def suggest(project: str | Path, model: str | None = None, *, labelled: bool = False,
            split: str | None = None, on_progress=None, should_stop=lambda: False,
            precision: str = "auto") -> Suggested:
    """Pre-annotate: store a model's suggestions for the unlabelled sentences (``labelled``:
    the labelled ones too; ``split``: only that split) and the active-learning order of the
    unlabelled ones. Gold is never touched. ``nerstudio preannotate``, Model > Pre-annotate and
    the keep-fresh refresh all come here."""
    from .inference import Predictor
    from .preannotate import preannotate

    folder, run_id = prediction_model(project, model)
    status = ("unlabelled", "labelled", "reviewed") if labelled else ("unlabelled",)
    skipped: dict[str, int] = {}
    n = preannotate(project, Predictor(folder, precision=precision), run_id, status, split,
                    on_progress,
                    should_stop, skipped=skipped)
    return Suggested(n, run_id, skipped)


def rank(project: str | Path, model: str | None = None, *, on_progress=None,
         should_stop=lambda: False) -> int | None:
    """Refresh the active-learning order of the unlabelled sentences with the active model (or
    ``model``) without touching suggestions; None when cancelled (the old order stays)."""
    from .active import refresh_active_order
    from .inference import Predictor

    folder, run_id = prediction_model(project, model)
    return refresh_active_order(project, Predictor(folder), run_id, on_progress=on_progress,
                                should_stop=should_stop)
