"""A labelling session through the app (issue #27): input events and waits until the model is good.

Usage: python benchmarks/bench_session.py [--policies manual,nerstudio] [--seeds 0,1,2]
         [--pool 3000] [--max-sentences 1000] [--target 0.80] [--checkpoints 200,400,...]
         [--dev-limit 1000] [--every 25] [--json FILE] [--data DIR]

A simulated annotator labels CoNLL-2003 train sentences to their gold tags through the app's own
input path: an offscreen ``MainWindow`` on a real project file, key presses sent to the focused
widget (the label keys 1-4, Enter, A, R) and mouse clicks, drags and right clicks on the token
editor's chip rectangles (``QTest``, as the GUI tests do). Nothing is written to the project
except through those events; after every sentence the file is read back and must hold exactly
the gold spans, marked labelled (else the run stops: the events did not do what was claimed).

Each seed picks a window of ``--pool`` consecutive train sentences (file order, documents kept
together): ``random.Random(seed).randrange``. They are imported unlabelled (``nerstudio import``);
the dev set is the first ``--dev-limit`` sentences of valid.txt, outside the project.

Policies:
  - ``manual`` (Prodigy's ``ner.manual``): file order, no model. For each gold entity, the label
    key when another label is active, then a click (one word) or a drag (several); Enter. The
    entities are labelled one label at a time (the fewest label keys). Its dev F1 curve comes from
    a from-scratch default run (``TrainConfig()``, the first keep-fresh run's schedule) on the
    sentences labelled at each checkpoint, in a subprocess (the annotator does not wait on it).
  - ``nerstudio``: Model > Keep the model fresh switched on through the menu (clicks), and the
    Active learning order chosen in the Order box (keys) as soon as the app offers it. For each
    sentence the cheapest correct plan over what the editor shows: a suggestion that is right is
    left for A (Accept all suggestions and next); a wrongly typed one is one click with the right
    label active; a wrong guess is a right click (reject); a boundary fix is a drag; a missed
    entity a click or drag; where the label must change before a click, Alt+N with the pointer
    on that token does both in one key; the last key is A when suggestions are left, else Enter
    (or R first, then by hand, when that is cheaper). The annotator waits for each background run and the
    suggestions refresh after it (the wait is timed: what a person labelling faster than a run
    would wait at most); each newly active model is scored on the dev set (not counted as wait).

A session ends when the dev F1 first reaches ``--target`` (a manual checkpoint, or a newly
active model) or at ``--max-sentences``.

Events: one key press, one click, one right click or one drag (press, moves, release) each count
as one input event, as does opening a menu or a combo box; moving the pointer (before a click,
a drag or Alt+N) is not counted, for either policy. Reported per policy and seed: events,
gold entities, events per gold entity, the events when dev F1 first reached ``--target``, wait
for the model, and the dev F1 against events (``--json``; ``plot_session.py`` draws it).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from bench_curve import DATA, LABELS, read_sentences, run_json, score, write_conll  # noqa: E402


# -- the plan: the cheapest correct actions for one sentence ----------------------------------------
def _overlaps(a, b) -> bool:
    return a.start < b.end and b.start < a.end


def _mark(t):
    """A click for a one-word entity, a drag over a longer one."""
    return ("click", t.start) if t.end - t.start == 1 else ("drag", t.start, t.end - 1)


def _with_label_keys(by_label: dict, active: str | None, chords: bool = True) -> list:
    """The marks grouped by label, the active label's first: a label change only where the
    label changes, and then, when the group has a click, Alt+N on that click's token (the label
    and the click in one key) rather than N and a click."""
    out = []
    order = sorted(by_label, key=lambda name: (name != active, name))
    for name in order:
        marks = sorted(by_label[name], key=lambda m: m[0] != "click")  # clicks first
        if name != active:
            if chords and marks[0][0] == "click":
                out.append(("chord", name, marks[0][1]))
                marks = marks[1:]
            else:
                out.append(("key", name))
            active = name
        out.extend(marks)
    return out


def plan_accept(gold_now, suggestions, target, active) -> list:
    """Fix what the suggestions get wrong, then A (or Enter when none is left)."""
    wanted = set(target)
    spans = [sp for sp, _ in suggestions]
    rejects, by_label, covered = [], defaultdict(list), set()
    for g in gold_now:  # gold already there that is wrong: its own label, a click removes it
        if g not in wanted:
            by_label[g.label].append(("click", g.start))
        else:
            covered.add(g)
    left = 0
    for s in spans:
        if s in wanted:
            covered.add(s)
            left += 1
            continue
        same = next((t for t in target if (t.start, t.end) == (s.start, s.end)), None)
        if same is not None:  # wrongly typed: one click with the right label active
            by_label[same.label].append(("click", s.start))
            covered.add(same)
            left += 1
            continue
        hit = [t for t in target if _overlaps(t, s)]
        if hit and all(t.end - t.start > 1 for t in hit):
            left += 1  # a drag over each right span hides it (Accept all skips what overlaps)
        else:
            rejects.append(("rclick", s.start))
    for t in target:
        if t not in covered:
            by_label[t.label].append(_mark(t))
    return rejects + _with_label_keys(by_label, active) + [("A",) if left else ("Enter",)]


def plan_manual(gold_now, target, active, reject_first: bool, chords: bool = True) -> list:
    by_label = defaultdict(list)
    for g in gold_now:
        if g not in set(target):
            by_label[g.label].append(("click", g.start))
    for t in target:
        if t not in gold_now:
            by_label[t.label].append(_mark(t))
    return (([("R",)] if reject_first else []) + _with_label_keys(by_label, active, chords)
            + [("Enter",)])


def plan(gold_now, suggestions, target, active, manual: bool = False) -> list:
    """The cheaper of: use the suggestions (fix, then A) and reject them all (R, by hand).
    ``manual``: the ner.manual workflow (a label key, then a click or drag)."""
    if manual:
        return plan_manual(gold_now, target, active, reject_first=False, chords=False)
    if not suggestions:
        return plan_manual(gold_now, target, active, reject_first=False)
    return min(plan_accept(gold_now, suggestions, target, active),
               plan_manual(gold_now, target, active, reject_first=True), key=len)


# -- the annotator: real Qt input events ------------------------------------------------------------
class Annotator:
    def __init__(self, window, app):
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        self.window, self.app, self.Qt, self.QTest = window, app, Qt, QTest
        self.events = 0
        self.kinds = defaultdict(int)
        names = window.store.label_set().names
        self.label_key = {n: getattr(Qt, f"Key_{i + 1}") for i, n in enumerate(names[:9])}

    def _count(self, kind: str) -> None:
        self.events += 1
        self.kinds[kind] += 1

    def _focus_for_keys(self) -> None:
        """The Annotate keys are live while the list or the editor pane has the focus; where it
        is elsewhere (after the Order box), a click on the editor's margin brings it back."""
        from PySide6.QtWidgets import QApplication

        w = QApplication.focusWidget()
        pane = self.window.editor_pane
        if w is not None and (w is self.window.table or pane.isAncestorOf(w)):
            return
        self.QTest.mouseClick(self.window.table.viewport(), self.Qt.LeftButton,
                              self.Qt.NoModifier, self._current_row_point())
        self._count("click")

    def _current_row_point(self):
        table = self.window.table
        return table.visualRect(table.currentIndex()).center()

    def key(self, key, kind: str) -> None:
        from PySide6.QtWidgets import QApplication

        self._focus_for_keys()
        self.QTest.keyClick(QApplication.focusWidget(), key)
        self._count(kind)

    def _point(self, i: int):
        editor = self.window.editor
        rect = editor.token_rect(i)
        if not editor.visibleRegion().boundingRect().contains(rect):
            scroll = editor.parentWidget().parentWidget()  # the QScrollArea's viewport's parent
            scroll.ensureVisible(rect.center().x(), rect.center().y(), 10, 40)
            self.app.processEvents()
            self._count("scroll")
        return rect.center()

    def act(self, action) -> None:
        Qt, QTest, editor = self.Qt, self.QTest, self.window.editor
        kind = action[0]
        if kind == "key":
            self.key(self.label_key[action[1]], "label key")
        elif kind == "chord":  # the pointer onto the token (a move, not counted), then Alt+N
            QTest.mouseMove(editor, self._point(action[2]))
            self.app.processEvents()
            self._focus_for_keys()
            from PySide6.QtWidgets import QApplication

            QTest.keyClick(QApplication.focusWidget(), self.label_key[action[1]], Qt.AltModifier)
            self._count("Alt+label key")
        elif kind in ("A", "R"):
            self.key(getattr(Qt, f"Key_{kind}"), kind)
        elif kind == "Enter":
            self.key(Qt.Key_Return, "Enter")
        elif kind == "click":
            QTest.mouseClick(editor, Qt.LeftButton, Qt.NoModifier, self._point(action[1]))
            self._count("click")
        elif kind == "rclick":
            QTest.mouseClick(editor, Qt.RightButton, Qt.NoModifier, self._point(action[1]))
            self._count("right click")
        elif kind == "drag":
            a, b = self._point(action[1]), self._point(action[2])
            QTest.mousePress(editor, Qt.LeftButton, Qt.NoModifier, a)
            QTest.mouseMove(editor, b)
            QTest.mouseRelease(editor, Qt.LeftButton, Qt.NoModifier, b)
            self._count("drag")
        self.app.processEvents()

    def menu(self, menu_title: str, action) -> None:
        """Open a menu of the menu bar with a click on its title, click one of its items."""
        bar = self.window.menuBar()
        title = next(a for a in bar.actions() if a.text().replace("&", "") == menu_title)
        self.QTest.mouseClick(bar, self.Qt.LeftButton, self.Qt.NoModifier,
                              bar.actionGeometry(title).center())
        self._count("menu")
        menu = title.menu()
        wait_until(self.app, menu.isVisible, 5)
        self.QTest.mouseClick(menu, self.Qt.LeftButton, self.Qt.NoModifier,
                              menu.actionGeometry(action).center())
        self._count("menu item")
        wait_until(self.app, lambda: not menu.isVisible(), 5)
        self._back_to_the_window()

    def _back_to_the_window(self) -> None:
        """What a window manager does when a popup closes: the main window is active again
        (the offscreen platform leaves the closed popup active)."""
        from PySide6.QtWidgets import QApplication

        steady_since, end = None, time.monotonic() + 10
        while time.monotonic() < end:  # the platform's late activation events settle first
            self.app.processEvents()
            if QApplication.activeWindow() is not self.window:
                self.window.activateWindow()
                steady_since = None
            elif steady_since is None:
                steady_since = time.monotonic()
            elif time.monotonic() - steady_since > 0.3:
                return
            time.sleep(0.01)

    def choose(self, combo, text: str) -> None:
        """Pick an entry of a combo box from the keyboard: a click gives it the focus (and opens
        its list), Escape closes the list, Down moves the choice one entry at a time."""
        self.QTest.mouseClick(combo, self.Qt.LeftButton)
        self._count("click")
        self.app.processEvents()
        self.QTest.keyClick(combo.view(), self.Qt.Key_Escape)
        self._count("key")
        wait_until(self.app, lambda: not combo.view().isVisible(), 5)
        self._back_to_the_window()
        while combo.currentText() != text:
            self.QTest.keyClick(combo, self.Qt.Key_Down)
            self._count("key")
            self.app.processEvents()


def wait_until(app, condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        app.processEvents()
        time.sleep(0.005)
        if time.monotonic() > end:
            return False
    return True


# -- one session ------------------------------------------------------------------------------------
def make_project(work: Path, pool) -> tuple[Path, dict]:
    """The pool imported unlabelled with ``nerstudio import``; sentence id -> gold spans."""
    from nerstudio.core.store import ProjectStore

    project = work / "session.nerproj"
    raw = work / "pool.jsonl"
    raw.write_text("".join(json.dumps({"tokens": s.words}) + "\n" for s in pool))
    cli = [sys.executable, "-m", "nerstudio"]
    subprocess.run(cli + ["init", str(project), "--labels", ",".join(LABELS)], check=True,
                   capture_output=True)
    subprocess.run(cli + ["import", str(project), str(raw), "--split", "train",
                          "--allow-duplicates"], check=True, capture_output=True)
    with ProjectStore(project, read_only=True) as store:
        ids = [s.id for s in store.iter_sentences(split="train")]
    assert len(ids) == len(pool), (len(ids), len(pool))
    return project, {sid: sorted(s.spans) for sid, s in zip(sorted(ids), pool)}


def check_saved(store, sid: int, gold) -> None:
    sentence = store.sentence(sid)
    if sorted(sentence.spans) != gold or sentence.status != "labelled":
        sys.exit(f"sentence {sid}: the file holds {sentence.spans} ({sentence.status}), the "
                 f"annotator meant {gold}: the events did not do what the plan said")


def labelled_sentences(project: Path):
    from nerstudio.core.store import ProjectStore

    with ProjectStore(project, read_only=True) as store:
        return list(store.iter_sentences(split="train", status=["labelled"]))


def train_checkpoint(project: Path, work: Path, n: int, dev) -> tuple[float, float]:
    """A from-scratch default run on what the file holds labelled (bench_curve's nerstudio side,
    in a subprocess); its dev F1 and its wall time."""
    folder = work / f"ckpt-{n}"
    folder.mkdir()
    write_conll(labelled_sentences(project), folder / "train.txt")
    result, wall = run_json([sys.executable, str(ROOT / "benchmarks" / "bench_curve.py"),
                             "--_ours", str(folder), str(folder / "run")])
    return score(result["model"], dev), wall


class Session:
    def __init__(self, policy: str, seed: int, pool, dev, a, say):
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from nerstudio.ui import window_editing
        from nerstudio.ui.app import create_window

        def refused(_parent, title, text):  # a modal box would hang the annotator: stop, say why
            sys.exit(f"the app refused an edit: {title}: {text}")

        window_editing.warn = refused

        self.policy, self.seed, self.dev, self.a, self.say = policy, seed, dev, a, say
        self.work = Path(tempfile.mkdtemp(prefix=f"session_{policy}_{seed}_"))
        self.project, self.gold = make_project(self.work, pool)
        self.app = QApplication.instance() or QApplication([])
        settings = QSettings(str(self.work / "settings.ini"), QSettings.IniFormat)
        self.window = create_window(str(self.project), settings=settings)
        self.window.resize(1400, 900)
        self.window.show()
        self.window.activateWindow()
        wait_until(self.app, lambda: self.window.current_id is not None, 30)
        wait_until(self.app, self.window.isActiveWindow, 10)
        self.window.table.setFocus()  # where the app puts it on opening
        wait_until(self.app, lambda: QApplication.focusWidget() is self.window.table, 10)
        self.annotator = Annotator(self.window, self.app)
        self.points, self.wait_s, self.entities, self.labelled = [], 0.0, 0, 0
        self.scored_run = None
        self.reached = None

    def point(self, f1: float, run=None, **extra) -> None:
        p = dict(labelled=self.labelled, events=self.annotator.events, entities=self.entities,
                 f1=round(f1, 4), wait_s=round(self.wait_s, 1), run=run, **extra)
        self.points.append(p)
        self.say(f"  {self.policy} seed {self.seed}: {self.labelled} sentences, "
                 f"{self.annotator.events} events ({self.entities} entities), dev F1 {f1:.3f}, "
                 f"waited {self.wait_s:.0f} s")
        if self.reached is None and f1 >= self.a.target:
            self.reached = p

    def label_one(self) -> bool:
        w = self.window
        sid = w.current_id
        if sid is None or w._shown is None or w._shown.status != "unlabelled":
            return False
        gold = self.gold[sid]
        actions = plan(list(w._shown.spans), list(w._shown_suggestions), gold,
                       w.editor.active_label, manual=self.policy == "manual")
        for action in actions:
            self.annotator.act(action)
        check_saved(w.store, sid, gold)
        self.labelled += 1
        self.entities += len(gold)
        wait_until(self.app, lambda: w.current_id != sid, 10)
        return True

    def setup(self) -> None:
        if self.policy != "nerstudio":
            return
        self.annotator.menu("Model", self.window.fresh_action)
        assert self.window.keep_fresh.enabled(), "Keep the model fresh did not switch on"
        if self.a.every:  # Model > Retrain every N…: the number typed into its dialog
            from PySide6.QtWidgets import QInputDialog

            real = QInputDialog.getInt
            QInputDialog.getInt = staticmethod(lambda *_a, **_k: (self.a.every, True))
            try:
                self.annotator.menu("Model", self.window.fresh_every_action)
            finally:
                QInputDialog.getInt = real
            self.annotator._count("typed number")
            assert self.window.keep_fresh.every() == self.a.every

    def after_sentence(self) -> None:
        if self.policy == "manual":
            if self.labelled in self.a.checkpoints:
                f1, wall = train_checkpoint(self.project, self.work, self.labelled, self.dev)
                self.point(f1, train_wall_s=round(wall, 1))
            return
        self._wait_for_the_model()

    def _wait_for_the_model(self) -> None:
        """A background run that is due starts within the app's pause rule (CHECK_DELAY_MS);
        the annotator waits for it and for the suggestions refresh after it."""
        w, kf = self.window, self.window.keep_fresh
        if not kf.due():
            return
        t0 = time.monotonic()
        wait_until(self.app, lambda: kf.worker is not None or not kf.due(), 10)
        idle = lambda: (kf.worker is None and w.refresher.worker is None  # noqa: E731
                        and not w.refresher._pending)
        wait_until(self.app, idle, 3600)
        self.wait_s += time.monotonic() - t0
        if w.order_combo.isEnabled() and not w.active_order_on():
            self.annotator.choose(w.order_combo, "Active learning (most informative first)")
        run = w.session.active_run
        if run is not None and run != self.scored_run:
            self.scored_run = run
            self.point(score(str(w.active_model_dir()), self.dev), run=run)

    def run(self) -> dict:
        t0 = time.monotonic()
        self.setup()
        while self.labelled < self.a.max_sentences:
            if not self.label_one():
                break
            self.after_sentence()
            if self.reached is not None and self.labelled >= self.a.min_sentences:
                break  # the target is reached: the session ends
        return self.summary(time.monotonic() - t0)

    def summary(self, wall: float) -> dict:
        ev, ent = self.annotator.events, max(self.entities, 1)
        out = dict(policy=self.policy, seed=self.seed, labelled=self.labelled,
                   events=ev, entities=self.entities, events_per_entity=round(ev / ent, 3),
                   kinds=dict(self.annotator.kinds), wait_s=round(self.wait_s, 1),
                   wall_s=round(wall, 1), points=self.points, reached=self.reached)
        self.window.keep_fresh.cancel()
        self.window.close()
        wait_until(self.app, lambda: self.window.keep_fresh.worker is None, 120)
        if not self.a.keep:
            shutil.rmtree(self.work, ignore_errors=True)  # a session's runs take gigabytes
        return out


def summarise(results: list[dict], target: float) -> str:
    lines = [f"{'policy':>10} {'seed':>4} {'sentences':>9} {'entities':>8} {'events':>6} "
             f"{'ev/entity':>9} {'events to F1>=' + format(target, '.2f'):>18} {'wait s':>7}"]
    for r in results:
        hit = r["reached"]
        at = f"{hit['events']} ({hit['labelled']} sent.)" if hit else "not reached"
        lines.append(f"{r['policy']:>10} {r['seed']:>4} {r['labelled']:>9} {r['entities']:>8} "
                     f"{r['events']:>6} {r['events_per_entity']:>9.3f} {at:>18} "
                     f"{r['wait_s']:>7.0f}")
    by = defaultdict(list)
    for r in results:
        by[r["policy"]].append(r)
    for policy, rs in by.items():
        epe = [r["events_per_entity"] for r in rs]
        hits = [r["reached"]["events"] for r in rs if r["reached"]]
        lines.append(f"{policy}: events per gold entity {statistics.mean(epe):.3f} (seeds "
                     f"{', '.join(f'{x:.3f}' for x in epe)}); events to F1 >= {target}: "
                     + (", ".join(map(str, hits)) if hits else "none") +
                     f" ({len(hits)}/{len(rs)} seeds)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", default="manual,nerstudio")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--pool", type=int, default=3000)
    ap.add_argument("--max-sentences", type=int, default=1000)
    ap.add_argument("--min-sentences", type=int, default=0,
                    help="go on to at least this many sentences after the target is reached")
    ap.add_argument("--target", type=float, default=0.80)
    ap.add_argument("--checkpoints", default="200,400,600,800,1000",
                    help="manual: labelled sizes at which a model is trained and scored")
    ap.add_argument("--dev-limit", type=int, default=1000)
    ap.add_argument("--every", type=int, default=0,
                    help="nerstudio: retrain after this many sentences (default: the app's 25)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep each session's project and runs")
    a = ap.parse_args()
    a.checkpoints = {int(x) for x in a.checkpoints.split(",") if x}
    if not (a.data / "train.txt").exists():
        sys.exit(f"CoNLL-2003 not found at {a.data} (see the README)")
    os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="session_cache_"))
    train = read_sentences(a.data / "train.txt")
    dev = read_sentences(a.data / "valid.txt")[:a.dev_limit]
    say = lambda text: print(text, flush=True)  # noqa: E731
    results = []
    for seed in [int(x) for x in a.seeds.split(",")]:
        start = random.Random(seed).randrange(len(train) - a.pool)
        pool = train[start:start + a.pool]
        say(f"seed {seed}: train sentences {start}..{start + a.pool - 1} (file order)")
        for policy in a.policies.split(","):
            results.append(Session(policy, seed, pool, dev, a, say).run())
            say(summarise(results[-1:], a.target))
            if a.json:
                a.json.write_text(json.dumps(results, indent=1))
    say(summarise(results, a.target))


if __name__ == "__main__":
    main()
