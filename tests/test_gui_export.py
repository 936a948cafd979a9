"""File > Export as a user runs it: the real dialog filled and OK clicked; an existing output is
replaced only after a Yes, and never the project itself."""
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox  # noqa: E402

from nerstudio.ui.import_dialog import ExportDialog  # noqa: E402
from tests.test_gui import settings, window  # noqa: E402,F401


def export_through_the_dialog(qtbot, window, path, fmt="conll"):
    """Open File > Export, fill the dialog as a person does, click OK; wait for the worker."""
    def fill():
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if isinstance(w, ExportDialog) and w.isVisible())
        dialog.format.setCurrentText(fmt)
        dialog.path.setText(str(path))
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.Ok)
        qtbot.mouseClick(ok, Qt.LeftButton)

    QTimer.singleShot(200, fill)
    window.export_action.trigger()
    qtbot.waitUntil(lambda: not window.workers, timeout=20000)


@pytest.fixture
def answers(monkeypatch):
    said = {"questions": [], "warnings": [], "answer": QMessageBox.No}
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: (
        said["questions"].append(a[2]), said["answer"])[1])
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: said["warnings"].append(a[2]))
    return said


def test_export_writes_and_asks_before_replacing(window, qtbot, tmp_path, answers):
    out = tmp_path / "out.conll"
    export_through_the_dialog(qtbot, window, out)
    first = out.read_text()
    assert "Maria" in first and not answers["questions"]  # labelled sentences, no question
    out.write_text("keep me\n")
    export_through_the_dialog(qtbot, window, out)  # exists: asked, answered No
    assert answers["questions"] and out.read_text() == "keep me\n"
    answers["answer"] = QMessageBox.Yes
    export_through_the_dialog(qtbot, window, out)  # answered Yes: replaced
    assert out.read_text() == first


def test_export_onto_the_project_is_refused_even_after_yes(window, qtbot, answers):
    project = window.store.path
    before = project.read_bytes()
    answers["answer"] = QMessageBox.Yes
    export_through_the_dialog(qtbot, window, project)
    assert project.read_bytes()[:100] == before[:100] and project.stat().st_size > 0
    assert any("project" in str(w) for w in answers["warnings"]), answers["warnings"]
    assert window.store.count() > 0  # still a working project
