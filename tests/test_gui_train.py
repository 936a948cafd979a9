"""pytest-qt tests of the Train view and the playground, driven the way a user drives them: real
clicks on buttons, tabs and run rows, typed text, modal dialogs answered by patching Qt's static
functions. Training tests really train the tiny BERT of tests/tiny_model.py for a few steps."""
import json
import shutil
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QTextDocument  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QMessageBox  # noqa: E402

from nerstudio.core.domain import Sentence  # noqa: E402
from nerstudio.core.runs import runs_dir  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui.app import create_window  # noqa: E402
from nerstudio.ui.demo import create_demo_project  # noqa: E402

HOSTILE_PER = '<img src="file:///etc/nerstudio-hostile.png">'
HOSTILE_LOC = '<a href="http://evil.example/">click</a>'


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    yield s
    s.clear()


def open_window(qtbot, project, settings):
    w = create_window(str(project) if project else None, settings=settings, offer_demo=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def window(qtbot, tmp_path, settings):
    return open_window(qtbot, create_demo_project(tmp_path / "demo.nerproj"), settings)


@pytest.fixture
def said(monkeypatch):
    """Every information / warning box, as (kind, title, plain text shown), answered at once."""
    shown = []

    def box(kind):
        def show(_parent, title, text, *a, **k):
            shown.append((kind, title, shown_text(text)))
            return QMessageBox.Ok
        return show

    for kind in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, kind, box(kind))
    return shown


def shown_text(text: str) -> str:
    """What a QMessageBox shows for ``text`` (rich text is rendered, plain text kept)."""
    from PySide6 import QtGui

    if QtGui.Qt.mightBeRichText(text):
        doc = QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def click_tab(window, qtbot, widget):
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(window.tabs.indexOf(widget)).center())
    assert window.tabs.currentWidget() is widget


def click_run(view, qtbot, run_id, modifier=Qt.NoModifier):
    """Click the run's row in the runs list (the first column's cell)."""
    for r in range(view.runs.rowCount()):
        if view.runs.item(r, 0).text() == str(run_id):
            rect = view.runs.visualItemRect(view.runs.item(r, 0))
            qtbot.mouseClick(view.runs.viewport(), Qt.LeftButton, modifier, rect.center())
            return
    raise AssertionError(f"run {run_id} not in the runs list")


def fake_run(store, name="run-x", status="finished", model=True, base_model="tiny",
             error=None, copy_from=None) -> int:
    """A run row as training leaves it; its folder under the project's .runs (with a model
    folder when ``model``: a copy of ``copy_from`` or a stub)."""
    run_id = store.create_run(base_model, {"base_model": base_model, "learning_rate": 0.001},
                              ["O", "B-PER", "I-PER"])
    folder = runs_dir(Path(store.path)) / f"run-{run_id}"
    if model:
        if copy_from is not None:
            shutil.copytree(copy_from, folder / "model")
        else:
            (folder / "model").mkdir(parents=True)
            (folder / "model" / "config.json").write_text("{}")
    store.update_run(run_id, status=status, output_dir=str(folder), error=error)
    return run_id


def runs_changed(window):
    """What a worker or another process does after writing runs: the list follows the session."""
    session = getattr(window, "session", None)
    if session is not None:
        session.notify_runs_changed()
    else:
        window.train_view.refresh_runs()


def sentence_gold_rows(path, sentence_id):
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT start, \"end\" FROM spans WHERE sentence_id = ?",
                           (sentence_id,)).fetchall()
    finally:
        con.close()


# -- training ------------------------------------------------------------------------------------
def test_train_button_streams_charts_and_records_a_run(window, qtbot, tiny_bert):
    view = window.train_view
    click_tab(window, qtbot, view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(2)
    view.lr.setValue(5e-3)
    view.batch.setValue(4)
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    worker = view.worker
    assert worker is not None and not view.train_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=120000):
        pass
    assert len(view.train_curve.getData()[0]) > 3  # loss points
    assert len(view.f1_curve.getData()[0]) == 2  # one F1 point per epoch
    assert view.per_label.rowCount() > 0
    runs = window.store.runs()
    assert runs[-1]["status"] == "finished" and runs[-1]["base_model"] == str(tiny_bert)
    assert view.runs.rowCount() == len(runs)


def test_cancel_ends_the_run_within_a_step(window, qtbot, tiny_bert):
    from nerstudio.core.training import TrainConfig

    view = window.train_view
    steps = []
    worker = view.start(TrainConfig(base_model=str(tiny_bert), epochs=50, batch_size=4,
                                    learning_rate=5e-3, logging_steps=1, max_length=64,
                                    keep_core_free=True))
    worker.event.connect(lambda e: steps.append(e) if type(e).__name__ == "Step" else None)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=60000)
    qtbot.mouseClick(view.cancel_button, Qt.LeftButton)
    asked_at = steps[-1].step
    with qtbot.waitSignal(worker.finished, timeout=60000) as blocker:
        pass
    run_id, event = blocker.args[0]
    assert type(event).__name__ == "Cancelled" and event.step <= asked_at + 2
    assert window.store.run(run_id)["status"] == "cancelled"


def test_finished_run_becomes_active_and_shows_after_restart(qtbot, tmp_path, settings, tiny_bert):
    """#13 item 7: the new model is the active one (the playground says so); after a restart a
    past run's charts, per-label table and settings come back from the project file; Overlay
    draws on both charts and is cleared by the next run; legends stay off the curves."""
    project = create_demo_project(tmp_path / "demo.nerproj")
    w = open_window(qtbot, project, settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(2)
    view.lr.setValue(5e-3)
    view.batch.setValue(4)
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    with qtbot.waitSignal(view.worker.finished, timeout=120000) as blocker:
        pass
    run_id, _event = blocker.args[0]
    assert w.store.meta("active_run") == run_id
    qtbot.waitUntil(lambda: w.playground.model_label.text() == f"model: run {run_id}")
    assert w.playground.predictor is not None
    active_col = [view.runs.item(r, 6).text() for r in range(view.runs.rowCount())]
    assert active_col.count("●") == 1
    # every per-label row is on screen (no row hidden below the fold)
    n = view.per_label.rowCount()
    assert n >= 4
    bottom = view.per_label.rowViewportPosition(n - 1) + view.per_label.rowHeight(n - 1)
    assert bottom <= view.per_label.viewport().height()
    # legends sit below the plot area, never over a curve
    for plot in (view.loss_plot, view.f1_plot):
        item = plot.getPlotItem()
        assert not item.legend.sceneBoundingRect().intersects(item.vb.sceneBoundingRect())
    w.close()

    w2 = open_window(qtbot, project, settings)  # a restart
    view = w2.train_view
    click_tab(w2, qtbot, view)
    assert view.shown_run == run_id  # the active run's results, on opening the project
    with ProjectStore(project) as s:
        train, evals = s.run_metrics(run_id, "train"), s.run_metrics(run_id, "eval")

    def shows_run_1():
        assert f"Run {run_id}" in view.showing.text()
        assert list(view.train_curve.getData()[0]) == [m["step"] for m in train]
        assert list(view.f1_curve.getData()[1]) == pytest.approx([m["f1"] for m in evals])
        assert view.per_label.rowCount() == len(max(evals, key=lambda m: m["f1"])["per_label"])
        shown = {view.run_settings.item(r, 0).text(): view.run_settings.item(r, 1).text()
                 for r in range(view.run_settings.rowCount())}
        assert shown["learning_rate"] == "0.005" and shown["epochs"] == "2.0"
        assert shown["base model"] == str(tiny_bert)

    shows_run_1()
    click_run(view, qtbot, run_id)
    qtbot.mouseClick(view.run_overlay_button, Qt.LeftButton)
    on = {p: [c for q, c in view.overlays if q is p] for p in (view.loss_plot, view.f1_plot)}
    assert len(on[view.loss_plot]) == 1 and len(on[view.f1_plot]) == 1
    assert len(on[view.loss_plot][0].getData()[0]) == len(train)
    assert len(on[view.f1_plot][0].getData()[0]) == len(evals)
    assert on[view.f1_plot][0] in view.f1_plot.getPlotItem().listDataItems()

    qtbot.mouseClick(view.train_button, Qt.LeftButton)  # the next run clears the overlays
    worker = view.worker
    assert worker is not None and view.overlays == []
    assert len(view.loss_plot.getPlotItem().listDataItems()) == 2  # train and dev only
    assert len(view.f1_plot.getPlotItem().listDataItems()) == 3
    qtbot.mouseClick(view.cancel_button, Qt.LeftButton)
    with qtbot.waitSignal(worker.finished, timeout=120000) as blocker:
        pass
    second, _event = blocker.args[0]
    assert view.shown_run == second and f"Run {second}" in view.showing.text()
    click_run(view, qtbot, run_id)  # a past run picked in the list: its results again
    shows_run_1()


def test_train_without_a_project_says_so(qtbot, settings, said):
    w = open_window(qtbot, None, settings)
    assert w.store is None
    if w.tabs.isVisible():  # the Train tab is reachable: its button says it
        click_tab(w, qtbot, w.train_view)
        qtbot.mouseClick(w.train_view.train_button, Qt.LeftButton)
    else:  # a welcome page instead of the tabs: the menu's Model > Train says it
        w.train_action.trigger()  # (offscreen, no window is active: a Ctrl+T would go nowhere)
    assert w.train_view.worker is None
    assert said and "No project is open" in said[-1][2]


def test_train_on_an_unlabelled_project_says_so_before_any_run(qtbot, tmp_path, settings, said):
    path = tmp_path / "empty.nerproj"
    with ProjectStore.create(path, labels=["PER", "LOC"]) as s:
        s.import_items([Sentence.from_words(["Anna", "lives", "in", "Oslo"], split="train"),
                        Sentence.from_words(["Bob", "too"], split="dev")])
    w = open_window(qtbot, path, settings)
    click_tab(w, qtbot, w.train_view)
    qtbot.mouseClick(w.train_view.train_button, Qt.LeftButton)
    assert w.train_view.worker is None
    assert said and "Nothing to train on" in said[-1][2]
    assert w.store.runs() == []  # no failed run left behind


# -- runs whose folder moved or was deleted; export -----------------------------------------------
def test_make_active_and_export_refuse_a_run_whose_model_is_gone(window, qtbot, said, monkeypatch):
    view = window.train_view
    click_tab(window, qtbot, view)
    good = fake_run(window.store)
    gone = fake_run(window.store)
    shutil.rmtree(runs_dir(Path(window.store.path)) / f"run-{gone}")
    runs_changed(window)
    click_run(view, qtbot, good)
    qtbot.mouseClick(view.run_make_button, Qt.LeftButton)
    assert window.store.meta("active_run") == good and not said
    assert window.playground.model_label.text() == f"model: run {good}"

    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *a, **k: pytest.fail("no folder to pick for a missing model"))
    click_run(view, qtbot, gone)
    qtbot.mouseClick(view.run_make_button, Qt.LeftButton)
    assert said[-1][0] == "warning" and f"run {gone}" in said[-1][2]
    assert window.store.meta("active_run") == good  # unchanged
    assert window.playground.model_label.text() == f"model: run {good}"
    qtbot.mouseClick(view.run_export_button, Qt.LeftButton)  # a warning, not FileNotFoundError
    assert len(said) == 2 and said[-1][0] == "warning" and "model folder" in said[-1][2]
    monkeypatch.setattr("nerstudio.ui.train_run_actions.QDesktopServices.openUrl",
                        lambda *a: pytest.fail("no folder to open"))
    qtbot.mouseClick(view.run_open_button, Qt.LeftButton)
    assert len(said) == 3 and said[-1][0] == "warning" and "model folder" in said[-1][2]


def test_export_refuses_the_runs_folder_and_asks_before_replacing(window, qtbot, tmp_path, said,
                                                                  monkeypatch):
    view = window.train_view
    click_tab(window, qtbot, view)
    run_id = fake_run(window.store)
    runs_changed(window)
    click_run(view, qtbot, run_id)
    target = {"dir": str(runs_dir(Path(window.store.path)))}
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: target["dir"])
    answers = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: answers.append(shown_text(a[2])) or answer["button"])
    answer = {"button": QMessageBox.No}

    qtbot.mouseClick(view.run_export_button, Qt.LeftButton)  # into the project's own .runs
    assert said[-1][0] == "warning" and "outside" in said[-1][2]
    assert not (Path(target["dir"]) / f"nerstudio-run-{run_id}").exists()

    out = tmp_path / "exports"
    out.mkdir()
    target["dir"] = str(out)
    qtbot.mouseClick(view.run_export_button, Qt.LeftButton)
    dest = out / f"nerstudio-run-{run_id}"
    assert (dest / "config.json").exists() and not answers  # a fresh folder: no question
    (dest / "mine.txt").write_text("keep me")

    qtbot.mouseClick(view.run_export_button, Qt.LeftButton)  # exists: asked, answered No
    assert len(answers) == 1 and "not empty" in answers[0]
    assert (dest / "mine.txt").exists()
    answer["button"] = QMessageBox.Yes
    qtbot.mouseClick(view.run_export_button, Qt.LeftButton)  # answered Yes: replaced
    assert len(answers) == 2 and not (dest / "mine.txt").exists()
    assert (dest / "config.json").exists()


def test_project_strings_in_the_train_view_are_plain_text(window, qtbot, said):
    view = window.train_view
    click_tab(window, qtbot, view)
    hostile = '<img src="file:///etc/x.png"><b>bold</b>'
    run_id = fake_run(window.store, status="failed", model=False, base_model=hostile,
                      error='<a href="http://evil.example/">boom</a>')
    runs_changed(window)
    row = next(r for r in range(view.runs.rowCount()) if view.runs.item(r, 0).text() == str(run_id))
    assert view.runs.item(row, 1).text() == hostile  # items are plain text
    tip = view.runs.item(row, 5).toolTip()
    assert "<a href" not in tip and 'href="http://evil.example/">boom' in shown_text(tip)
    click_run(view, qtbot, run_id)
    assert view.showing.textFormat() == Qt.PlainText and hostile in view.showing.text()
    qtbot.mouseClick(view.run_make_button, Qt.LeftButton)  # not finished: a warning
    assert said[-1][0] == "warning"


def test_a_failed_runs_reason_shows_literally(window, qtbot, tmp_path, said):
    view = window.train_view
    click_tab(window, qtbot, view)
    bogus = str(tmp_path / '<img src="file:///etc/x.png">no-model')
    view.base_model.setCurrentText(bogus)
    view.epochs.setValue(1)
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.worker is None, timeout=120000)
    assert said and said[-1][0] == "warning" and said[-1][1] == "Training failed"
    assert bogus in said[-1][2]  # the markup in the model name, shown as text
    assert view.progress_text.textFormat() == Qt.PlainText


# -- playground ----------------------------------------------------------------------------------
def wait_result_for(pg, qtbot, text):
    qtbot.waitUntil(lambda: pg.result_text == text, timeout=20000)


def test_playground_highlights_entities(window, qtbot, trained):
    pg = window.playground
    pg.set_model(trained, "tiny")
    click_tab(window, qtbot, pg)
    qtbot.keyClicks(pg.input, "angela merkel visited paris.")
    wait_result_for(pg, qtbot, "angela merkel visited paris.")
    found = {(e.text, e.label) for e in pg.entities}
    assert ("angela merkel", "PER") in found and ("paris", "LOC") in found
    html = pg.output.toHtml()
    assert "PER" in html and "angela merkel" in html
    pg.threshold.setValue(100)
    assert pg.visible_entities() == [] or all(e.score >= 1.0 for e in pg.visible_entities())
    pg.threshold.setValue(0)


def test_playground_drops_stale_results(window, qtbot, trained, monkeypatch, request):
    """The older request's result arrives last (it is held until the newer one is shown): it is
    dropped, not shown over the newer text."""
    from nerstudio.ui import playground

    release = threading.Event()
    request.addfinalizer(release.set)  # a failing test does not leave the thread waiting
    predict = playground.predict_text

    def held(predictor, text, **kw):
        if text == "paris":
            assert release.wait(120), "the stale prediction was never released"
        return predict(predictor, text, **kw)

    monkeypatch.setattr(playground, "predict_text", held)
    pg = window.playground
    pg.set_model(trained, "tiny")
    pg.input.blockSignals(True)
    pg.input.setPlainText("paris")
    first = pg.predict_now()
    pg.input.setPlainText("angela merkel")
    second = pg.predict_now()
    pg.input.blockSignals(False)
    with qtbot.waitSignal(second.finished, timeout=120000):
        pass
    assert [e.text for e in pg.entities] == ["angela merkel"]
    # finished is emitted after the playground's own slot ran: the stale result was handled
    with qtbot.waitSignal(first.finished, timeout=120000) as stale:
        release.set()
    assert [e.text for e in stale.args[0]] == ["paris"]  # it did predict the old text
    assert pg.result_text == "angela merkel"
    assert [e.text for e in pg.entities] == ["angela merkel"]


def test_add_to_dataset_during_the_debounce_uses_the_current_text(window, qtbot, trained):
    """#13 item 4 + #12 item 5: Add right after typing (before the debounce fires) stores the
    text in the editor with ITS entities, as unlabelled sentences with suggestions, not gold."""
    pg = window.playground
    pg.set_model(trained, "tiny")
    click_tab(window, qtbot, pg)
    a = "angela merkel visited paris and john smith works for apple in london."
    b = "mary jones lives near rome."
    qtbot.keyClicks(pg.input, a)
    wait_result_for(pg, qtbot, a)
    assert ("angela merkel", "PER") in {(e.text, e.label) for e in pg.entities}
    a_spans = {(e.token_start, e.token_end, e.label) for e in pg.entities}
    qtbot.keyClick(pg.input, Qt.Key_A, Qt.ControlModifier)
    qtbot.keyClicks(pg.input, b)
    assert pg.input.toPlainText() == b and pg.result_text == a  # the debounce has not fired
    events = []
    session = getattr(window, "session", None)
    if session is not None:
        session.sentences_changed.connect(lambda: events.append("sentences"))
    before = window.store.count()
    with qtbot.waitSignal(pg.added, timeout=20000) as blocker:
        qtbot.mouseClick(pg.add_button, Qt.LeftButton)
    assert blocker.args == [1] and window.store.count() == before + 1
    sid = max(r.id for r in window.store.sentence_rows(0, 1000))
    new = window.store.sentence(sid)
    assert new.text == b and new.status == "unlabelled" and new.spans == []
    assert sentence_gold_rows(window.store.path, sid) == []  # model output is not gold
    expected = {(e.token_start, e.token_end, e.label) for e in pg.entities}
    assert pg.result_text == b and ("rome", "LOC") in {(e.text, e.label) for e in pg.entities}
    stored = {(sp.start, sp.end, sp.label) for sp, _score in window.store.predictions(sid)}
    assert stored == expected and (4, 5, "LOC") in stored
    assert not (a_spans - expected) & stored  # none of A's entities, applied to B
    if session is not None:
        assert events
    qtbot.waitUntil(lambda: window.model.total == before + 1)  # the annotate list shows it


def test_add_to_dataset_of_a_model_less_playground_adds_plain_sentences(window, qtbot):
    pg = window.playground
    pg.set_model(None)
    click_tab(window, qtbot, pg)
    qtbot.keyClicks(pg.input, "Anna met Bob. Then she left.")
    before = window.store.count()
    with qtbot.waitSignal(pg.added, timeout=5000):
        qtbot.mouseClick(pg.add_button, Qt.LeftButton)
    assert window.store.count() == before + 2
    sid = max(r.id for r in window.store.sentence_rows(0, 1000))
    assert window.store.predictions(sid) == [] and window.store.sentence(sid).spans == []
    # found using the app: a second click added the same sentences again
    qtbot.mouseClick(pg.add_button, Qt.LeftButton)
    assert window.store.count() == before + 2
    assert "Already in the project: 2 sentences" in window.statusBar().currentMessage()
    qtbot.keyClicks(pg.input, " A new one.")  # one new sentence: only that one is added
    with qtbot.waitSignal(pg.added, timeout=5000) as blocker:
        qtbot.mouseClick(pg.add_button, Qt.LeftButton)
    assert blocker.args == [1] and window.store.count() == before + 3
    assert "2 sentences already in the project, skipped" in window.statusBar().currentMessage()


def test_hostile_model_labels_show_as_text_and_load_nothing(window, qtbot, trained, tmp_path):
    """#13 item 6: a model whose id2label holds markup cannot make the playground load an image
    or show a link; the label shows literally."""
    model = tmp_path / "hostile-model"
    shutil.copytree(trained, model)
    cfg = json.loads((model / "config.json").read_text())
    swap = {"PER": HOSTILE_PER, "LOC": HOSTILE_LOC}
    cfg["id2label"] = {i: t[:2] + swap.get(t[2:], t[2:]) if t != "O" else t
                       for i, t in cfg["id2label"].items()}
    cfg["label2id"] = {t: int(i) for i, t in cfg["id2label"].items()}
    (model / "config.json").write_text(json.dumps(cfg))
    view = window.train_view
    click_tab(window, qtbot, view)
    run_id = fake_run(window.store, copy_from=model)
    runs_changed(window)
    click_run(view, qtbot, run_id)
    qtbot.mouseClick(view.run_make_button, Qt.LeftButton)
    pg = window.playground
    click_tab(window, qtbot, pg)
    assert pg.model_label.text() == f"model: run {run_id}"
    text = "angela merkel visited paris."
    qtbot.keyClicks(pg.input, text)
    wait_result_for(pg, qtbot, text)
    assert {e.label for e in pg.entities} >= {HOSTILE_PER, HOSTILE_LOC}
    doc = pg.output.document()
    plain = doc.toPlainText()
    assert HOSTILE_PER in plain and HOSTILE_LOC in plain  # shown literally
    html = pg.output.toHtml()
    assert "<img" not in html and 'href="http://evil' not in html
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            assert not fmt.isImageFormat()
            assert not fmt.isAnchor() or fmt.anchorHref().startswith("ent:")
            it += 1
        block = block.next()


def test_highlight_view_never_loads_a_resource(window, tmp_path):
    """Defence in depth: even markup that got through unescaped loads no local file."""
    from PySide6.QtGui import QImage

    image = tmp_path / "secret.png"
    QImage(8, 8, QImage.Format_RGB32).save(str(image))
    out = window.playground.output
    out.show()
    for src in (QUrl.fromLocalFile(str(image)).toString(), str(image)):
        out.setHtml(f'<img src="{src}"><link rel="stylesheet" href="{src}">')
        out.viewport().repaint()  # the layout would load the image itself if it could
        got = out.document().resource(QTextDocument.ImageResource, QUrl(src))
        assert got is None or got.size().width() <= 1  # a blank placeholder, not the file


# -- test scores and the train curve (issue #14 items 3 and 4) -------------------------------------
def test_a_finished_run_is_scored_on_test_and_shown(qtbot, tmp_path, settings, tiny_bert):
    """After a run finishes, the worker scores it on the labelled test sentences; the Test tab
    shows each label and the runs list the test F1."""
    from tests.test_evaluation import make_project

    project = make_project(tmp_path / "p.nerproj", n_train=16)
    w = open_window(qtbot, project, settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(2)
    view.lr.setValue(5e-3)
    view.batch.setValue(8)
    seen = []
    qtbot.mouseClick(view.train_button, Qt.LeftButton)
    view.worker.event.connect(lambda e: seen.append(type(e).__name__))
    with qtbot.waitSignal(view.worker.finished, timeout=180000) as blocker:
        pass
    run_id, _event = blocker.args[0]
    assert seen[-2:] == ["SplitEvaluationStarted", "SplitEvaluated"]
    stored = w.store.run(run_id)["evaluations"]["test"]
    assert stored["sentences"] == 4 and set(stored["per_label"]) == {"PER", "ORG", "LOC"}
    assert view.shown_run == run_id
    rows = {view.test_table.item(r, 0).text(): [view.test_table.item(r, c).text()
                                               for c in range(1, 5)]
            for r in range(view.test_table.rowCount())}
    assert set(rows) == {"PER", "ORG", "LOC", "all (micro avg)"}
    assert rows["PER"][3] == "4" and rows["all (micro avg)"][2] == f"{stored['f1']:.3f}"
    assert f"Run {run_id} on 4 labelled test sentences" in view.test_caption.text()
    row = next(r for r in range(view.runs.rowCount()) if view.runs.item(r, 0).text() == str(run_id))
    assert view.runs.horizontalHeaderItem(7).text() == "test F1"
    assert view.runs.item(row, 7).text() == f"{stored['f1']:.4f}"


def test_evaluate_on_test_button_scores_a_past_run(qtbot, tmp_path, settings, trained, said):
    from tests.test_evaluation import make_project

    project = make_project(tmp_path / "p.nerproj", n_train=4)
    w = open_window(qtbot, project, settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    run_id = fake_run(w.store, copy_from=trained)
    runs_changed(w)
    click_run(view, qtbot, run_id)
    assert view.test_table.rowCount() == 0 and "not been scored" in view.test_caption.text()
    qtbot.mouseClick(view.run_evaluate_button, Qt.LeftButton)
    worker = view.eval_worker
    assert worker is not None and not view.run_evaluate_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=60000):
        pass
    assert not said and view.eval_worker is None and view.run_evaluate_button.isEnabled()
    assert w.store.run(run_id)["evaluations"]["test"]["sentences"] == 4
    assert view.tables.currentWidget() is view.test_tab and view.shown_run == run_id
    labels = [view.test_table.item(r, 0).text() for r in range(view.test_table.rowCount())]
    assert labels == ["LOC", "ORG", "PER", "all (micro avg)"]
    row = next(r for r in range(view.runs.rowCount()) if view.runs.item(r, 0).text() == str(run_id))
    assert view.runs.item(row, 7).text() != ""

    failed = fake_run(w.store, status="failed", model=False)  # no model: refused with a reason
    runs_changed(w)
    click_run(view, qtbot, failed)
    qtbot.mouseClick(view.run_evaluate_button, Qt.LeftButton)
    assert view.eval_worker is None and "did not finish" in said[-1][2]


def test_evaluate_on_test_without_test_sentences_says_so(window, qtbot, trained, said):
    view = window.train_view
    click_tab(window, qtbot, view)
    run_id = fake_run(window.store, copy_from=trained)
    runs_changed(window)
    click_run(view, qtbot, run_id)
    qtbot.mouseClick(view.run_evaluate_button, Qt.LeftButton)
    assert view.eval_worker is None and "no labelled sentence" in said[-1][2]


def test_will_more_data_help_charts_four_points(qtbot, tmp_path, settings, tiny_bert):
    from tests.test_evaluation import make_project

    project = make_project(tmp_path / "p.nerproj", n_train=16)
    w = open_window(qtbot, project, settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(2)
    view.lr.setValue(5e-3)
    view.batch.setValue(8)
    before = project.read_bytes()
    qtbot.mouseClick(view.curve_button, Qt.LeftButton)
    worker = view.curve_worker
    assert worker is not None and not view.train_button.isEnabled()
    assert view.cancel_button.isEnabled() and view.tables.currentWidget() is view.curve_tab
    with qtbot.waitSignal(worker.finished, timeout=180000) as blocker:
        pass
    points = blocker.args[0]
    xs, ys = view.curve_line.getData()
    assert list(xs) == [25, 50, 75, 100] and list(ys) == pytest.approx([p["dev_f1"] for p in points])
    assert [p["n_train"] for p in points] == [4, 8, 12, 16]
    assert view.curve_verdict.text().startswith(("F1 still rising at 100 %", "flat"))
    assert view.train_button.isEnabled() and view.curve_button.isEnabled()
    assert w.store.runs() == [] and view.runs.rowCount() == 0  # nothing recorded
    # no run folder: at most the training slot's lock file (core/slot.py)
    assert project.read_bytes() == before and {p.name for p in runs_dir(project).glob("*")} \
        <= {"training.lock"}


def test_will_more_data_help_can_be_cancelled(qtbot, tmp_path, settings, tiny_bert):
    from tests.test_evaluation import make_project

    project = make_project(tmp_path / "p.nerproj", n_train=16)
    w = open_window(qtbot, project, settings)
    view = w.train_view
    click_tab(w, qtbot, view)
    view.base_model.setCurrentText(str(tiny_bert))
    view.epochs.setValue(30)
    view.lr.setValue(5e-3)
    view.batch.setValue(4)
    qtbot.mouseClick(view.curve_button, Qt.LeftButton)
    worker = view.curve_worker
    steps = []
    worker.event.connect(lambda e: steps.append(e) if type(e).__name__ == "Step" else None)
    qtbot.waitUntil(lambda: len(steps) >= 1, timeout=60000)
    qtbot.mouseClick(view.cancel_button, Qt.LeftButton)
    with qtbot.waitSignal(worker.finished, timeout=60000) as blocker:
        pass
    assert len(blocker.args[0]) < 4 and view.curve_worker is None
    assert view.curve_verdict.text().startswith("Stopped after")
    assert view.train_button.isEnabled() and w.store.runs() == []


# -- auto values shown before the run ---------------------------------------------------------------
def test_auto_values_are_shown_before_the_run_and_follow_the_data(window, qtbot):
    from nerstudio.core.training.auto import auto_schedule

    view = window.train_view
    expected = auto_schedule(16)  # the demo: 16 labelled train sentences (+4 dev)
    qtbot.waitUntil(lambda: "for 16 train sentences" in view.auto_info.text(), timeout=5000)
    text = view.auto_info.text()
    assert f"batch {expected.batch_size}" in text and f"epochs {expected.epochs:g}" in text
    view.lr.setValue(3e-5)  # set by hand: no longer auto, no longer listed
    qtbot.waitUntil(lambda: "lr " not in view.auto_info.text(), timeout=5000)
    store = window.store
    sid = next(s.id for s in store.iter_sentences(split="train", status=["unlabelled"]))
    window.session.set_status(sid, "labelled")  # one more labelled sentence: recounted
    qtbot.waitUntil(lambda: "for 17 train sentences" in view.auto_info.text(), timeout=5000)
