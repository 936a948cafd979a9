"""The Train view is built on first use (start-up): the window opens without it (nor pyqtgraph,
nor torch on the GUI thread); the first time its tab is shown or anything asks for
``window.train_view`` it takes its placeholder's place in the tabs and follows the current
session (open, close, another project, runs_changed) as one built at start-up did. torch is
still imported on a worker thread shortly after the window shows (the warm-up)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt  # noqa: E402

from nerstudio.core.domain import Sentence  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402
from nerstudio.ui import main_window  # noqa: E402
from nerstudio.ui.main_window import MainWindow  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _project(path: Path, runs: int = 0) -> Path:
    with ProjectStore.create(path, labels=["PER", "LOC"]) as store:
        store.import_items([Sentence.from_words(["Ann", "lives", "in", "Rome", "."])] * 3)
        for _ in range(runs):
            _run(store)
    return path


def _run(store) -> int:
    run_id = store.create_run("tiny", {"base_model": "tiny"}, ["O", "B-PER", "I-PER"])
    store.update_run(run_id, status="failed", error="a test run")
    return run_id


def _run_rows(view) -> list[str]:
    return sorted(view.runs.item(r, 0).text() for r in range(view.runs.rowCount()))


@pytest.fixture
def no_warm_up(monkeypatch):
    """The window's warm-up imports torch (seconds): counted instead, where it is not the test."""
    calls = []
    monkeypatch.setattr(main_window, "_warm_up", lambda **_kw: calls.append(1))
    return calls


@pytest.fixture
def window(qtbot, tmp_path, no_warm_up):
    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    return w


def test_the_window_opens_without_the_train_view(tmp_path):
    """In a fresh process: window built, project open, first sentence painted: no Train view,
    no pyqtgraph, no torch; the Train tab is there (a placeholder)."""
    project = _project(tmp_path / "p.nerproj")
    code = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from nerstudio.ui.app import create_window
        w = create_window({str(project)!r}, settings=QSettings({str(tmp_path / 's.ini')!r},
                          QSettings.IniFormat), offer_demo=False)
        w.show()
        for _ in range(20):
            app.processEvents()
        assert w.editor.sentence is not None
        assert w._train_view is None
        assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == \\
            ["Annotate", "Train", "Playground"]
        print("pyqtgraph" in sys.modules, "torch" in sys.modules)
        w._warm_timer.stop()  # (the warm-up is not what this test is about)
        w.close()
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_asking_for_it_builds_it_in_its_tab_with_the_session(window, tmp_path):
    window.open_project(_project(tmp_path / "p.nerproj", runs=2))
    placeholder = window.tabs.widget(1)
    assert window._train_view is None and window.tabs.tabText(1) == "Train"
    view = window.train_view
    assert window.train_view is view  # built once
    assert window.tabs.indexOf(view) == 1 and window.tabs.tabText(1) == "Train"
    assert window.tabs.count() == 3 and window.tabs.indexOf(placeholder) == -1
    assert window.tabs.currentWidget() is window.annotate_page  # asking did not switch tabs
    assert view._session is window.session
    assert _run_rows(view) == ["1", "2"]  # the project's runs, listed
    window.tabs.setCurrentWidget(window.train_view)
    assert window.tabs.currentWidget() is view


def test_a_click_on_the_train_tab_builds_and_shows_it(window, qtbot, tmp_path):
    window.open_project(_project(tmp_path / "p.nerproj", runs=1))
    window.show()
    qtbot.waitExposed(window)
    assert window.edit_actions[0].isEnabled()
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(1).center())
    view = window._train_view
    assert view is not None and window.tabs.currentWidget() is view and view.isVisible()
    assert window.tabs.currentIndex() == 1 and window.tabs.count() == 3
    assert not any(a.isEnabled() for a in window.annotate_actions)  # not the Annotate tab
    assert _run_rows(view) == ["1"]
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(0).center())
    assert window.tabs.currentWidget() is window.annotate_page
    assert window.edit_actions[0].isEnabled()
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(1).center())
    assert window.tabs.currentWidget() is view is window.train_view


def test_model_train_builds_it(window, tmp_path):
    window.open_project(_project(tmp_path / "p.nerproj"))
    window.show_training()
    assert window._train_view is not None and window.tabs.currentWidget() is window.train_view


def test_a_view_built_later_follows_the_session(window, tmp_path):
    """Built after a project was opened, it gets that session, then the next project's, then
    none; runs_changed reaches it."""
    a = _project(tmp_path / "a.nerproj", runs=1)
    b = _project(tmp_path / "b.nerproj", runs=3)
    window.open_project(a)
    view = window.train_view
    assert view._session is window.session and _run_rows(view) == ["1"]
    with ProjectStore(a) as other:  # a worker or another process records a run ...
        _run(other)
    window.session.notify_runs_changed()  # ... and says so
    assert _run_rows(view) == ["1", "2"]
    window.open_project(b)
    assert view._session is window.session and _run_rows(view) == ["1", "2", "3"]
    window._close_session()
    assert view._session is None


def test_built_before_any_project_it_gets_the_first_one(window, tmp_path):
    view = window.train_view
    assert view._session is None
    window.open_project(_project(tmp_path / "p.nerproj", runs=1))
    assert view._session is window.session and _run_rows(view) == ["1"]


def test_closing_the_window_does_not_build_it(window, tmp_path):
    window.open_project(_project(tmp_path / "p.nerproj"))
    window.show()
    window.close()
    assert window._train_view is None


def test_torch_is_imported_in_the_background_after_the_window_shows(window, qtbot, tmp_path,
                                                                     no_warm_up):
    window.open_project(_project(tmp_path / "p.nerproj"))
    assert window._warm is None and not window._warm_timer.isActive()  # not while building
    window.show()
    assert window._warm is None and window._warm_timer.isActive()  # soon after showing
    assert window._warm_timer.interval() == main_window.WARM_UP_DELAY_MS
    qtbot.waitUntil(lambda: window.warmed, timeout=10000)
    assert no_warm_up == [1] and window._train_view is None
    assert window.warm_up() is window._warm  # once
    window.hide()
    window.show()
    assert not window._warm_timer.isActive() and no_warm_up == [1]


def test_warm_up_on_request_starts_it_once(window, qtbot, no_warm_up):
    worker = window.warm_up()
    assert window.warm_up() is worker
    window.show()
    assert not window._warm_timer.isActive()
    qtbot.waitUntil(lambda: window.warmed, timeout=10000)
    assert no_warm_up == [1]
