from hypothesis import given, strategies as st

from nerstudio.core.tokenize import split_sentences, tokenize


def words(text):
    return [t.text for t in tokenize(text)]


def test_conll_style_punctuation():
    assert words("Merkel's U.S. visit didn't cost $1,000.50 (1996-08-22).") == [
        "Merkel", "'s", "U.S.", "visit", "did", "n't", "cost", "$", "1,000.50", "(",
        "1996-08-22", ")", "."]
    assert words('He said "Hi!" to Mr. Smith...') == [
        "He", "said", '"', "Hi", "!", '"', "to", "Mr.", "Smith", "..."]


def test_boundaries_split_tokens():
    toks = tokenize("NewYorker rocks", boundaries=[3])
    assert [t.text for t in toks] == ["New", "Yorker", "rocks"]


def test_unicode_offsets():
    text = "Café 東京 in 👩‍👩‍👧 e\u0301t\u00e9 مرحبا بك"
    toks = tokenize(text)
    assert all(text[t.start:t.end] == t.text for t in toks)
    assert "👩‍👩‍👧" in [t.text for t in toks]  # one grapheme, not split
    assert "e\u0301t\u00e9" in [t.text for t in toks]  # combining mark stays in its word


def test_split_sentences():
    text = "Angela Merkel visited Paris. Mr. Smith stayed in the U.S. for a week!\n\nNew paragraph"
    sents = split_sentences(text)
    assert [[t.text for t in s][0] for s in sents] == ["Angela", "Mr.", "New"]


@given(st.text(max_size=200))
def test_offsets_always_slice_back(text):
    toks = tokenize(text)
    assert all(text[t.start:t.end] == t.text and t.text.strip() for t in toks)
    assert all(a.end <= b.start for a, b in zip(toks, toks[1:]))
    assert sum(len(s) for s in split_sentences(text)) == len(toks)


def test_social_media_tokens_stay_whole():
    text = ("@maria_k loves #NewYork! Mail ana.lima+news@example.co.uk or see "
            "https://example.org/a?b=1&c=(2). www.test.com, ok")
    assert words(text) == [
        "@maria_k", "loves", "#NewYork", "!", "Mail", "ana.lima+news@example.co.uk", "or",
        "see", "https://example.org/a?b=1&c=(2", ")", ".", "www.test.com", ",", "ok"]
    assert words("a # b @ c") == ["a", "#", "b", "@", "c"]  # a lone sign is punctuation
