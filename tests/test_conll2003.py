"""The real CoNLL-2003 files (read from ../shared/data, never copied here)."""
import pytest

from nerstudio.core.formats import export_file, import_file
from nerstudio.core.store import ProjectStore

EXPECTED = {"train": (14041, 23499), "dev": (3250, 5942), "test": (3453, 5648)}


@pytest.mark.slow
def test_import_counts_and_line_for_line_export(conll_dir, tmp_path):
    with ProjectStore.create(tmp_path / "conll.nerproj") as store:
        for name in ("train", "valid", "test"):
            import_file(store, conll_dir / f"{name}.txt")
        stats = store.stats()["splits"]
        assert {k: (v["sentences"], v["entities"]) for k, v in stats.items()} == EXPECTED
        for name, split in (("train", "train"), ("valid", "dev"), ("test", "test")):
            out = tmp_path / f"{name}.conll"
            export_file(store, out, "conll", split)
            source = (conll_dir / f"{name}.txt").read_text().splitlines()
            assert out.read_text().splitlines() == source
