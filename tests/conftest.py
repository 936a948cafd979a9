import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONLL_DIR = ROOT.parent / "shared" / "data" / "conll2003"


@pytest.fixture
def conll_dir():
    if not (CONLL_DIR / "train.txt").exists():
        pytest.skip(f"CoNLL-2003 not found at {CONLL_DIR} (see the README: it is never in the repo)")
    return CONLL_DIR


@pytest.fixture
def store(tmp_path):
    from nerstudio.core.store import ProjectStore

    s = ProjectStore.create(tmp_path / "test.nerproj", labels=["PER", "ORG", "LOC", "MISC"])
    yield s
    s.close()


SAMPLE_CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Angela NNP B-NP B-PER
Merkel NNP I-NP I-PER
visited VBD B-VP O
New NNP B-NP B-LOC
York NNP I-NP I-LOC
. . O O
"""


@pytest.fixture
def sample_conll(tmp_path):
    p = tmp_path / "train.txt"
    p.write_text(SAMPLE_CONLL, encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    from tests.tiny_model import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert")
