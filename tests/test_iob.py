import pytest
from hypothesis import given, strategies as st

from nerstudio.core.domain import Span
from nerstudio.core.errors import TagError
from nerstudio.core.iob import (bioes_to_iob2, detect_scheme, iob1_to_iob2, repair_iob2,
                                spans_to_tags, tags_to_spans, validate_iob2)


def test_tags_to_spans_basic():
    assert tags_to_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]) == [
        Span(0, 2, "PER"), Span(3, 4, "LOC"), Span(4, 5, "LOC")]


@pytest.mark.parametrize("tags, pos", [(["O", "I-PER"], 1), (["B-PER", "I-LOC"], 1),
                                       (["B-"], 0), (["X-PER"], 0), (["PER"], 0),
                                       (["O", "S-PER"], 1)])
def test_validate_names_the_position(tags, pos):
    with pytest.raises(TagError) as err:
        validate_iob2(tags)
    assert err.value.position == pos
    with pytest.raises(TagError):
        tags_to_spans(tags)


def test_repair_and_iob1():
    assert repair_iob2(["O", "I-PER", "I-PER", "I-LOC"]) == ["O", "B-PER", "I-PER", "B-LOC"]
    # IOB1: B- only separates two adjacent entities of one type
    assert iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O"]) == ["B-PER", "I-PER", "B-PER", "O"]


def test_bioes_and_bilou():
    assert bioes_to_iob2(["B-ORG", "E-ORG", "S-PER", "O"]) == ["B-ORG", "I-ORG", "B-PER", "O"]
    assert bioes_to_iob2(["U-LOC", "B-PER", "I-PER", "L-PER"]) == ["B-LOC", "B-PER", "I-PER", "I-PER"]


def test_detect_scheme():
    assert detect_scheme([["B-PER", "I-PER"], ["O"]]) == "iob2"
    assert detect_scheme([["O", "I-PER"]]) == "iob1"
    assert detect_scheme([["S-PER"]]) == "bioes"


def test_spans_to_tags_rejects_overlap_and_range():
    with pytest.raises(TagError):
        spans_to_tags([Span(0, 2, "PER"), Span(1, 3, "LOC")], 4)
    with pytest.raises(TagError):
        spans_to_tags([Span(2, 5, "PER")], 4)


LABELS = st.sampled_from(["PER", "ORG", "LOC", "MISC"])


@st.composite
def spans_and_length(draw):
    n = draw(st.integers(0, 30))
    spans, i = [], 0
    while i < n:
        if draw(st.booleans()):
            end = draw(st.integers(i + 1, n))
            spans.append(Span(i, end, draw(LABELS)))
            i = end
        else:
            i += 1
    return spans, n


@given(spans_and_length())
def test_spans_tags_spans_is_identity(data):
    spans, n = data
    tags = spans_to_tags(spans, n)
    validate_iob2(tags)
    assert tags_to_spans(tags) == spans


@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]), max_size=30))
def test_repair_always_gives_valid_iob2(tags):
    fixed = repair_iob2(tags)
    validate_iob2(fixed)
    assert spans_to_tags(tags_to_spans(fixed), len(fixed)) == fixed
