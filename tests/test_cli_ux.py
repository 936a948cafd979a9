"""The CLI as people drive it (issue 17): stats with long label names, predict line by line and on
pre-tokenized words, hub names that cannot load while offline, and nerstudio's own progress on
stderr when it is not a terminal. Commands run as subprocesses, as a user runs them."""
import io
import json
import os
import re
import subprocess
import sys
import time

import pytest

from nerstudio.progress import Progress, progress

LONG_LABELS = ["WORK_OF_ART", "creative-work", "TWENTY_CHAR_LABEL_XY", "PER"]


def cli(*args, input=None, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "nerstudio", *map(str, args)], input=input,
                          capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def one_line_error(out) -> str:
    assert out.returncode != 0, out.stdout
    err = out.stderr.strip()
    assert err.count("\n") == 0 and err.startswith("nerstudio: error: "), out.stderr
    return err


# -- stats ----------------------------------------------------------------------------------------
def test_stats_columns_line_up_with_long_label_names(tmp_path):
    proj = tmp_path / "p.nerproj"
    data = tmp_path / "train.txt"
    data.write_text("Dune B-WORK_OF_ART\nby O\nFrank B-PER\nHerbert I-PER\n\n"
                    "x B-creative-work\ny B-TWENTY_CHAR_LABEL_XY\n\n" * 600, encoding="utf-8")
    test = tmp_path / "test.txt"
    test.write_text("Frank B-PER\n", encoding="utf-8")
    assert cli("init", proj, "--labels", ",".join(LONG_LABELS)).returncode == 0
    assert cli("import", proj, data, test).returncode == 0
    out = cli("stats", proj)
    assert out.returncode == 0, out.stderr
    table = out.stdout.splitlines()[1:]
    assert [row.split()[0] for row in table] == ["split", "train", "test"]
    header = table[0]
    assert re.split(r"\s{2,}", header) == ["split", "sentences", "labelled", "tokens",
                                           "entities", *LONG_LABELS]
    for row in table[1:]:
        cells = re.split(r"\s{2,}", row)
        assert len(cells) == len(LONG_LABELS) + 5, row
        # numbers are right-aligned under their header: the cells end where the header's do
        ends = [m.end() for m in re.finditer(r"\S+", row)][1:]
        assert ends == [m.end() for m in re.finditer(r"\S+", header)][1:], (header, row)
    train = re.split(r"\s{2,}", table[1])
    assert train[1:] == ["1200", "1200", "3600", "2400", "600", "600", "600", "600"]


# -- predict --------------------------------------------------------------------------------------
def test_predict_lines_gives_each_line_its_number_and_offsets(tiny_bert):
    lines = ["angela merkel visited paris .", "", "john smith works for apple in london ."]
    out = cli("predict", "--model", tiny_bert, "--lines", "--format", "json", "-",
              input="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    records = [json.loads(r) for r in out.stdout.splitlines()]
    assert records and {r["line"] for r in records} == {1, 3}  # an empty line has no entities
    for r in records:
        assert lines[r["line"] - 1][r["start"]:r["end"]] == r["text"]
    # without --lines the input is one text: offsets into all of it, no line numbers
    whole = "\n".join(lines) + "\n"
    out = cli("predict", "--model", tiny_bert, "--format", "json", "-", input=whole)
    records = [json.loads(r) for r in out.stdout.splitlines()]
    assert records and all("line" not in r and whole[r["start"]:r["end"]] == r["text"]
                           for r in records)


def test_predict_lines_reads_a_file_argument(tiny_bert, tmp_path):
    f = tmp_path / "texts.txt"
    f.write_text("paris\nberlin\nrome\n", encoding="utf-8")
    out = cli("predict", "--model", tiny_bert, "--lines", "--format", "json", f)
    assert out.returncode == 0, out.stderr
    records = [json.loads(r) for r in out.stdout.splitlines()]
    assert [(r["line"], r["text"]) for r in records] == [(1, "paris"), (2, "berlin"), (3, "rome")]


def test_predict_pretokenized_takes_the_words_as_they_are(tiny_bert):
    """One documented format: a sentence per line, words split by whitespace; each entity
    names its line, with offsets into that line and word indices within it."""
    lines = ["@angela_m #paris http://x.com/a?b=1 don't U.S.A.-based", "",
             "john smith works for apple in london", "paris berlin rome"]
    out = cli("predict", "--model", tiny_bert, "--pretokenized", "--format", "json", "-",
              input="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    records = [json.loads(r) for r in out.stdout.splitlines()]
    assert records and {r["line"] for r in records} <= {1, 3, 4}
    assert 4 in {r["line"] for r in records}  # the last line, counted from 1 across the blank
    covered = []
    for r in records:
        line = lines[r["line"] - 1]
        starts = {m.start() for m in re.finditer(r"\S+", line)}
        ends = {m.end() for m in re.finditer(r"\S+", line)}
        assert r["start"] in starts and r["end"] in ends, r  # never inside a word
        assert line[r["start"]:r["end"]] == r["text"]
        assert r["text"].split() == line.split()[r["token_start"]:r["token_end"]]
        if r["line"] == 1:
            covered += line.split()[r["token_start"]:r["token_end"]]
    assert "don't" in covered or "don't" not in " ".join(covered)


def test_predict_a_missing_model_folder_is_one_line(tmp_path):
    err = one_line_error(cli("predict", "--model", tmp_path / "nope", "x"))
    assert "no such model folder" in err


@pytest.mark.parametrize("env", [
    {"HF_HUB_OFFLINE": "1"},
    # online mode, but the hub cannot be reached (a closed local port): one probe, no retries
    {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"},
], ids=["offline", "unreachable"])
def test_predict_an_offline_hub_name_fails_fast_in_one_line(tmp_path, env):
    env = {**env, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")}
    started = time.monotonic()
    out = cli("predict", "--model", "someone/no-such-model", "hello", env=env, cwd=tmp_path)
    assert time.monotonic() - started < 10
    err = one_line_error(out)
    assert "someone/no-such-model" in err and "cache" in err


# -- progress -------------------------------------------------------------------------------------
LIBRARY_BARS = ("Loading weights", "Writing model shards", "it/s]", "%|")


def test_long_predict_shows_plain_progress_lines_off_a_terminal(tiny_bert, tmp_path):
    f = tmp_path / "texts.txt"
    f.write_text("angela merkel visited paris .\n" * 2500, encoding="utf-8")
    out = cli("predict", "--model", tiny_bert, "--lines", "--format", "json", f)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) >= 2500
    assert re.search(r"^predicting: 2,500 / 2,500 lines \(100%, in \d+", out.stderr, re.M), out.stderr
    assert not any(bar in out.stderr for bar in LIBRARY_BARS), out.stderr


def test_long_import_shows_plain_progress_lines_off_a_terminal(tmp_path):
    data = tmp_path / "train.txt"
    data.write_text("Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n. O\n\n" * 3000,
                    encoding="utf-8")
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    out = cli("import", proj, data)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^importing: 3,000 sentences", out.stderr, re.M), out.stderr
    assert not any(bar in out.stderr for bar in LIBRARY_BARS), out.stderr


def test_preannotate_runs_with_nerstudio_progress(tiny_bert, tmp_path):
    text = tmp_path / "raw.txt"
    text.write_text("Angela Merkel visited Paris. John Smith works in London.\n", encoding="utf-8")
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0 and cli("import", proj, text).returncode == 0
    out = cli("preannotate", proj, "--model", tiny_bert)
    assert out.returncode == 0, out.stderr
    assert "stored suggestions for 2 sentences" in out.stdout
    # short work: no progress lines and no library bars; the tiny model's own labels
    # (LABEL_0/1) are not the project's: skipped, and said in one line
    assert [line.split(" ")[0] for line in out.stderr.splitlines()] in ([], ["skipped"])


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_prints_plain_lines_at_most_every_interval_and_at_the_end():
    f = io.StringIO()
    with progress(20744, "sentences", "importing", file=f, interval=0) as bar:
        for _ in range(3):
            bar.update(4000)
        bar.update(20744 - 12000)
    lines = f.getvalue().splitlines()  # the clock starts with the first update (not the load)
    assert lines[0].startswith("importing: 8,000 / 20,744 sentences (38%, about ")
    assert lines[-1].startswith("importing: 20,744 / 20,744 sentences (100%, in ")
    f = io.StringIO()
    with progress(None, "sentences", "importing", file=f, interval=3600) as bar:
        bar.update(5000)
        bar.update(5000)
    assert f.getvalue().splitlines() == [f.getvalue().splitlines()[0]]  # only the closing line
    assert f.getvalue().startswith("importing: 10,000 sentences (in ")


def test_progress_is_silent_for_short_work_and_on_failure():
    f = io.StringIO()
    with progress(50, "sentences", "importing", file=f, interval=0) as bar:
        bar.update(50)
    with progress(None, "sentences", "importing", file=f, interval=3600) as bar:
        bar.update(10)
    with pytest.raises(RuntimeError):
        with progress(None, "sentences", "importing", file=f, interval=3600) as bar:
            bar.update(5000)
            raise RuntimeError("an import error stays one line")
    assert f.getvalue() == ""


def test_progress_on_a_terminal_is_a_bar_with_an_eta():
    f = _Terminal()
    bar = Progress(4000, "sentences", "exporting", file=f)
    bar.update(1000)
    bar.update(1000)
    bar.close()
    shown = f.getvalue()
    assert "exporting" in shown and "/4000" in shown and "<" in shown  # tqdm: elapsed<eta


def test_long_export_shows_plain_progress_off_a_terminal(tmp_path):
    """Export counts the sentences it writes, as plain lines when stderr is not a terminal."""
    data = tmp_path / "big.conll"
    data.write_text("\n\n".join(f"w{i} B-PER\nsaid O" for i in range(3000)) + "\n",
                    encoding="utf-8")
    proj = tmp_path / "p.nerproj"
    assert cli("init", proj).returncode == 0
    assert cli("import", proj, data, "--split", "train").returncode == 0
    out = cli("export", proj, tmp_path / "out.jsonl", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert "exporting: 3,000 / 3,000 sentences" in out.stderr, out.stderr
