"""The token editor on its own, driven by real mouse events (pytest-qt, offscreen).

The editor draws every token of a sentence in one widget, so a click is aimed at a token's
rectangle (``token_rect``) and the editor hit-tests it; these tests never call the slots.
"""
import sys
import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, QPoint, Qt  # noqa: E402
from PySide6.QtGui import QFont, QFontMetrics, QHelpEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QToolTip, QWidget  # noqa: E402

from nerstudio.core.domain import Sentence, Span  # noqa: E402
from nerstudio.ui import token_editor as te  # noqa: E402
from nerstudio.ui.token_editor import TokenEditor  # noqa: E402

WORDS = "Hannah Schultz became mayor of Leipzig in 2019 after a long campaign .".split()
COLOURS = {"PER": "#ffb3ba", "ORG": "#bae1ff", "LOC": "#baffc9", "MISC": "#ffffba"}


class Host:
    """What the main window does with the editor: save the emitted spans and show them again."""

    def __init__(self, editor: TokenEditor, sentence: Sentence, suggestions=()):
        self.editor, self.sentence = editor, sentence
        self.edits, self.accepted = [], []
        editor.edited.connect(self.on_edited)
        editor.suggestion_accepted.connect(self.accepted.append)
        editor.set_sentence(sentence, suggestions, COLOURS)

    def on_edited(self, spans):
        self.edits.append(spans)
        self.sentence.spans = list(spans)
        self.editor.set_sentence(self.sentence, [])


def make_editor(qtbot, width=640, height=400):
    """A TokenEditor inside a shown, resizable scroll area, as in the main window."""
    editor = TokenEditor()
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(editor)
    scroll.resize(width, height)
    qtbot.addWidget(scroll)
    scroll.show()
    qtbot.waitExposed(scroll)
    return editor, scroll


def settle(qtbot, editor, scroll) -> None:
    """Wait until the scroll area's layout caught up with the sentence shown or the size set (a
    chain of posted events: the height asked for shows the scroll bar, which narrows the editor,
    which reflows): the vertical bar is shown exactly when the editor is taller than the
    viewport, the editor is as wide as the viewport and flowed for that width. A fixed wait did
    not always see the end of the chain on a loaded machine."""
    viewport, bar = scroll.viewport(), scroll.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.isVisibleTo(scroll) == (editor.minimumHeight() > viewport.height())
                    and editor.width() == viewport.width()
                    and editor._layout_width == max(editor.width(), 200), timeout=60000)


def sentence(words=WORDS, spans=(), sid=1):
    s = Sentence.from_words(list(words), spans=list(spans))
    s.id = sid
    return s


def centre(editor, i) -> QPoint:
    return editor.token_rect(i).center()


def click(qtbot, editor, i, modifier=Qt.NoModifier):
    qtbot.mouseClick(editor, Qt.LeftButton, modifier, centre(editor, i))


@pytest.fixture
def editor(qtbot):
    editor, scroll = make_editor(qtbot)
    yield editor  # the scroll area (the editor's parent) lives until the test ends
    del scroll


def test_click_labels_a_token(editor, qtbot):
    host = Host(editor, sentence())
    editor.active_label = "PER"
    with qtbot.waitSignal(editor.edited) as blocker:
        click(qtbot, editor, 0)
    assert blocker.args == [[Span(0, 1, "PER")]]
    assert editor.look_at(0) == (te.GOLD, "PER", True, 0.0)
    assert host.edits == [[Span(0, 1, "PER")]]


def test_drag_labels_a_span(editor, qtbot):
    host = Host(editor, sentence())
    editor.active_label = "LOC"
    QTest.mousePress(editor, Qt.LeftButton, Qt.NoModifier, centre(editor, 2))
    QTest.mouseMove(editor, centre(editor, 3))
    QTest.mouseMove(editor, centre(editor, 4))
    QTest.mouseRelease(editor, Qt.LeftButton, Qt.NoModifier, centre(editor, 4))
    assert host.edits == [[Span(2, 5, "LOC")]]


def test_drag_backwards_and_release_between_chips(editor, qtbot):
    host = Host(editor, sentence())
    editor.active_label = "ORG"
    QTest.mousePress(editor, Qt.LeftButton, Qt.NoModifier, centre(editor, 6))
    QTest.mouseMove(editor, centre(editor, 4))
    QTest.mouseRelease(editor, Qt.LeftButton, Qt.NoModifier, centre(editor, 4))
    assert host.edits == [[Span(4, 7, "ORG")]]
    r = editor.token_rect(8)  # released in the gap after the pressed chip: a click on it
    QTest.mousePress(editor, Qt.LeftButton, Qt.NoModifier, r.center())
    QTest.mouseRelease(editor, Qt.LeftButton, Qt.NoModifier, QPoint(r.right() + 3, r.center().y()))
    assert host.edits[-1] == [Span(4, 7, "ORG"), Span(8, 9, "ORG")]


def test_click_between_chips_does_nothing(editor, qtbot):
    host = Host(editor, sentence())
    editor.active_label = "PER"
    r = editor.token_rect(0)
    qtbot.mouseClick(editor, Qt.LeftButton, Qt.NoModifier, QPoint(r.right() + 3, r.center().y()))
    qtbot.mouseClick(editor, Qt.LeftButton, Qt.NoModifier, QPoint(2, 2))  # the margin
    assert host.edits == []


def test_shift_click_extends(editor, qtbot):
    host = Host(editor, sentence())
    editor.active_label = "PER"
    click(qtbot, editor, 0)
    click(qtbot, editor, 1, Qt.ShiftModifier)
    assert host.edits == [[Span(0, 1, "PER")], [Span(0, 2, "PER")]]
    assert editor.look_at(1) == (te.GOLD, "PER", False, 0.0)


def test_click_labelled_span_relabels_then_removes(editor, qtbot):
    host = Host(editor, sentence(spans=[Span(0, 2, "PER"), Span(5, 6, "LOC")]))
    editor.active_label = "LOC"
    click(qtbot, editor, 5)  # its own label: removed
    assert host.edits[-1] == [Span(0, 2, "PER")]
    editor.active_label = "ORG"
    click(qtbot, editor, 1)  # another label: the whole span relabelled
    assert host.edits[-1] == [Span(0, 2, "ORG")]
    assert editor.look_at(0).label == "ORG"


def test_click_suggestion_gives_it_the_active_label(editor, qtbot):
    host = Host(editor, sentence(), suggestions=[(Span(0, 2, "PER"), 0.9)])
    editor.active_label = "PER"
    assert editor.look_at(0) == (te.SUGGESTED, "PER", True, 0.9)  # dashed, tag "PER?"
    with qtbot.waitSignal(editor.suggestion_accepted) as blocker:
        click(qtbot, editor, 1)  # its own label: accepted as it is
    assert blocker.args == [Span(0, 2, "PER")] and host.edits == []
    editor.active_label = "LOC"
    with qtbot.waitSignal(editor.suggestion_accepted) as blocker:
        click(qtbot, editor, 0)  # another label: one click retypes the whole suggestion
    assert blocker.args == [Span(0, 2, "LOC")] and host.edits == []


def test_right_click_rejects_one_suggestion(editor, qtbot):
    host = Host(editor, sentence(spans=[Span(5, 6, "LOC")]),
                suggestions=[(Span(0, 2, "PER"), 0.9), (Span(3, 4, "ORG"), 0.6)])
    with qtbot.waitSignal(editor.suggestion_rejected) as blocker:
        QTest.mouseClick(editor, Qt.RightButton, Qt.NoModifier, centre(editor, 1))
    assert blocker.args == [Span(0, 2, "PER")] and host.edits == []
    with qtbot.assertNotEmitted(editor.suggestion_rejected):
        QTest.mouseClick(editor, Qt.RightButton, Qt.NoModifier, centre(editor, 5))  # gold
        QTest.mouseClick(editor, Qt.RightButton, Qt.NoModifier, centre(editor, 2))  # plain
    assert host.edits == []


def test_label_tag_widens_the_first_chip_only(editor, qtbot):
    Host(editor, sentence())
    plain = [editor.token_rect(i).width() for i in range(3)]
    editor.set_sentence(sentence(spans=[Span(0, 2, "PER")]), [], COLOURS)
    assert editor.token_rect(0).width() > plain[0] and editor.token_rect(1).width() == plain[1]
    assert editor.token_rect(1).x() > editor.token_rect(0).right()


def test_wraps_and_relayouts_only_when_the_width_changes(qtbot, monkeypatch):
    editor, scroll = make_editor(qtbot, width=300)
    Host(editor, sentence(WORDS * 10))
    settle(qtbot, editor, scroll)  # the scroll bar appears, the width settles
    lines = {editor.token_rect(i).y() for i in range(editor.token_count())}
    assert len(lines) > 5 and editor.minimumHeight() > max(lines)
    calls = []
    real = te.flow_lines
    monkeypatch.setattr(te, "flow_lines", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    scroll.resize(300, 500)  # taller only: no reflow
    qtbot.waitUntil(lambda: scroll.height() == 500, timeout=60000)
    settle(qtbot, editor, scroll)
    # (that left the editor at its minimum height): the editor itself made taller, as the
    # scroll area does when it grows it to the height asked for (it then sizes it back)
    sizes = []

    class Sizes(te.QWidget):
        def eventFilter(self, obj, event):
            if obj is editor and event.type() == QEvent.Resize:
                sizes.append((event.size().width(), event.size().height()))
            return False

    watch = Sizes()
    editor.installEventFilter(watch)
    width, taller = editor.width(), editor.height() + 200
    editor.resize(width, taller)
    editor.removeEventFilter(watch)
    assert (width, taller) in sizes
    assert calls == []
    scroll.resize(600, 500)
    qtbot.waitUntil(lambda: bool(calls))
    assert len({editor.token_rect(i).y() for i in range(editor.token_count())}) < len(lines)


def test_50k_tokens_show_fast_in_one_widget(qtbot, monkeypatch):
    editor, scroll = make_editor(qtbot, width=900, height=700)
    words = [f"w{i % 7919}" * (1 + i % 3) for i in range(50_000)]
    spans = [Span(i, i + 2, "PER" if i % 2 else "LOC") for i in range(0, 50_000, 9)]
    big = sentence(words, spans)
    t0 = time.perf_counter()
    editor.set_sentence(big, [(Span(3, 5, "ORG"), 0.7)], COLOURS)
    image = scroll.viewport().grab()  # a real paint of what is on screen
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, elapsed
    assert not image.isNull()
    assert len(editor.findChildren(QWidget)) < 10
    # a repaint computes the rectangles of the visible chips only
    rects = []
    real = TokenEditor.token_rect
    monkeypatch.setattr(TokenEditor, "token_rect", lambda self, i: rects.append(i) or real(self, i))
    scroll.viewport().grab()
    assert 0 < len(set(rects)) < 2_000
    # far down the sentence, hit-testing and painting use the same geometry
    last = editor.token_count() - 1
    scroll.ensureVisible(centre(editor, last).x(), centre(editor, last).y())
    editor.active_label = "MISC"
    with qtbot.waitSignal(editor.edited) as blocker:
        click(qtbot, editor, last)
    assert Span(last, last + 1, "MISC") in blocker.args[0]
    assert not scroll.viewport().grab().toImage().isNull()


def test_hostile_label_name_is_drawn_literally(editor, qtbot):
    hostile = "<h1>BIG</h1>"
    s = sentence(spans=[Span(0, 1, hostile)])
    editor.set_sentence(s, [(Span(3, 4, "<b>x</b>"), 0.5)], {hostile: "#ff0000"})
    editor.repaint()
    assert not editor.findChildren(QLabel)  # no widget that could interpret markup
    # the tag's box is the literal string's width in the small bold tag font
    tag_font = QFont(editor.font())
    tag_font.setPointSizeF(te.TAG_POINT_SIZE)
    tag_font.setBold(True)
    fm = QFontMetrics(editor.font())
    expected = (2 * te.PAD_X + fm.horizontalAdvance(WORDS[0]) + fm.horizontalAdvance(" ")
                + QFontMetrics(tag_font).horizontalAdvance(hostile))
    assert editor.token_rect(0).width() == expected
    # the tooltip shows the name escaped inside a rich-text wrapper: literal text
    for i, wanted in ((0, "&lt;h1&gt;BIG&lt;/h1&gt; (gold)"), (3, "&lt;b&gt;x&lt;/b&gt;")):
        pos = centre(editor, i)
        QApplication.sendEvent(editor, QHelpEvent(QEvent.ToolTip, pos, editor.mapToGlobal(pos)))
        assert wanted in QToolTip.text() and "<h1>" not in QToolTip.text()
    QToolTip.hideText()


def test_incremental_reflow_matches_a_full_flow():
    """A span edit re-flows from the changed line only; the result must equal a full flow."""
    import random

    rng = random.Random(1)
    for _ in range(300):
        n, width = rng.randint(1, 400), rng.randint(120, 900)
        widths = [rng.randint(12, 160) for _ in range(n)]
        xs, starts = te.flow_lines(widths, width)
        changed = sorted(rng.sample(range(n), rng.randint(1, min(3, n))))
        for i in changed:
            widths[i] = max(12, widths[i] + rng.choice((-60, -25, 25, 60, 200)))
        assert te.reflow_lines(widths, width, list(xs), list(starts), changed[0], changed[-1]) \
            == te.flow_lines(widths, width)


def test_editing_a_long_sentence_keeps_the_layout_right(qtbot):
    editor, scroll = make_editor(qtbot, width=500)
    host = Host(editor, sentence(WORDS * 200))
    settle(qtbot, editor, scroll)
    editor.active_label = "MISC"
    for i in (3, 40, 41, 7):
        click(qtbot, editor, i)
    expected_xs, expected_starts = te.flow_lines(editor._widths, editor._layout_width)
    assert (editor._xs, editor._starts) == (expected_xs, expected_starts)
    assert host.edits[-1] == [Span(3, 4, "MISC"), Span(7, 8, "MISC"), Span(40, 41, "MISC"),
                              Span(41, 42, "MISC")]


def test_span_edits_update_looks_and_widths_like_a_fresh_show(editor, qtbot):
    """Re-showing the sentence after an edit updates only the changed spans; random edits (with
    suggestions underneath) must give the same looks, widths and flow as showing it afresh."""
    import random

    rng = random.Random(3)
    words = WORDS * 20
    suggestions = [(Span(i, i + rng.randint(1, 3), "ORG"), 0.5) for i in range(0, 230, 7)]
    s = sentence(words)
    editor.set_sentence(s, suggestions, COLOURS)
    fresh = TokenEditor()
    fresh.resize(editor.size())
    for _ in range(60):
        spans = []
        i = rng.randint(0, 5)
        while i < len(words) - 4:
            if rng.random() < 0.3:
                n = rng.randint(1, 4)
                spans.append(Span(i, i + n, rng.choice(["PER", "LOC", "<h1>BIG</h1>"])))
                i += n
            i += rng.randint(0, 6)
        s.spans = spans
        editor.set_sentence(s, suggestions)
        fresh.set_sentence(sentence(words, spans, sid=2), suggestions, COLOURS)
        assert editor._looks == te.token_looks(spans, suggestions)
        assert editor._widths == fresh._widths
        assert (editor._xs, editor._starts) == te.flow_lines(editor._widths, editor._layout_width)


def test_changed_lines_cover_every_chip_that_moved():
    """After an edit only ``_changed_lines`` are repainted: every chip whose line or x changed,
    and the edited ones, must lie on them (None: the number of lines changed, repaint all)."""
    import random
    from bisect import bisect_right

    rng = random.Random(5)
    for _ in range(300):
        n, width = rng.randint(1, 400), rng.randint(120, 900)
        widths = [rng.randint(12, 160) for _ in range(n)]
        xs, starts = te.flow_lines(widths, width)
        lo = rng.randrange(n)
        hi = min(n - 1, lo + rng.randint(0, 3))
        for i in range(lo, hi + 1):
            widths[i] = max(12, widths[i] + rng.choice((-60, -25, 0, 25, 60, 200)))
        new_xs, new_starts = te.reflow_lines(widths, width, list(xs), list(starts), lo, hi)
        lines = te._changed_lines(starts, new_starts, lo, hi)
        if len(starts) != len(new_starts):
            assert lines is None
            continue
        line_of = lambda s, i: bisect_right(s, i) - 1  # noqa: E731
        for i in range(n):
            if (xs[i], line_of(starts, i)) != (new_xs[i], line_of(new_starts, i)) or lo <= i <= hi:
                assert lines[0] <= line_of(new_starts, i) <= lines[1]
                assert lines[0] <= line_of(starts, i) <= lines[1]


def test_a_click_repaints_only_the_lines_it_changed(qtbot):
    editor, scroll = make_editor(qtbot, width=500, height=600)
    Host(editor, sentence(WORDS * 400))
    settle(qtbot, editor, scroll)
    rects = []

    class Filter(te.QWidget):
        def eventFilter(self, obj, event):
            if obj is editor and event.type() == QEvent.Paint:
                rects.append(event.rect())
            return False

    f = Filter()
    editor.installEventFilter(f)
    editor.active_label = "LOC"
    line = editor._metrics.line_height
    for i in (30, 31, 30, 60):  # add, extend the neighbour, relabel, add further down
        rects.clear()
        click(qtbot, editor, i)
        qtbot.waitUntil(lambda: bool(rects), timeout=60000)
        assert all(r.height() <= 3 * line + 2 * te.SPACING for r in rects), rects
        assert any(r.contains(editor.token_rect(i)) for r in rects)
    editor.removeEventFilter(f)


def test_collector_paused_restores_the_collector():
    import gc

    assert gc.isenabled()
    with te.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with te.collector_paused():
            pass
        assert not gc.isenabled()  # someone else's pause is kept
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError):
        with te.collector_paused():
            1 / 0
    assert gc.isenabled()
