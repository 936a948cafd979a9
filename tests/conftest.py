import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# int8 exports of models that are not a run's (core/int8.py) go to the user cache: the tests'
# own, not the home folder's
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nerstudio-test-cache-")

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


TINY_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def _tiny_data():
    from nerstudio.core.training import Example

    return [Example(("angela", "merkel", "visited", "paris", "."), ("B-PER", "I-PER", "O", "B-LOC", "O")),
            Example(("john", "smith", "works", "for", "apple", "in", "london", "."),
                    ("B-PER", "I-PER", "O", "O", "B-ORG", "O", "B-LOC", "O")),
            Example(("mary", "jones", "lives", "near", "rome", "."), ("B-PER", "I-PER", "O", "O", "B-LOC", "O")),
            Example(("peter", "paul", "met", "acme", "corp", "in", "tokyo", "."),
                    ("B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O", "B-LOC", "O"))] * 10


TINY_DATA = _tiny_data()


@pytest.fixture(scope="session")
def trained(tiny_bert, tmp_path_factory):
    """A tiny BERT fine-tuned on TINY_DATA: a saved model that tags names and places."""
    from nerstudio.core.training import Finished, TrainConfig, TrainingData, train

    out = tmp_path_factory.mktemp("trained")
    result = train(TrainingData(TINY_DATA, TINY_DATA[:4], TINY_TAGS),
                   TrainConfig(base_model=str(tiny_bert), epochs=8, batch_size=8, learning_rate=5e-3,
                               max_length=64, eval_every="none"), out)
    assert isinstance(result, Finished), result
    return result.model_dir
