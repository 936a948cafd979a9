"""A run frees what it built, though the engine froze the heap mid-run (GUI processes train many)."""
import gc
import weakref

from nerstudio.core.training import Finished, TrainingData, engine, train

from .test_training import TAGS, TRAIN, tiny_config


def _recording(monkeypatch, name, refs):
    original = getattr(engine, name)

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        refs.append(weakref.ref(out))
        return out

    monkeypatch.setattr(engine, name, wrapper)


def test_two_runs_in_one_process_leave_no_model_or_data_behind(tiny_bert, tmp_path, monkeypatch):
    refs = []
    _recording(monkeypatch, "load_model", refs)
    _recording(monkeypatch, "hold_out_dev", refs)  # the run's own TrainingData (dev held out)
    for i in range(2):
        result = train(TrainingData(TRAIN, [], TAGS), tiny_config(tiny_bert, epochs=1),
                       tmp_path / f"run{i}")
        assert isinstance(result, Finished), result
        gc.collect()  # what a process does on its own; frozen objects are skipped by it
        alive = [type(r()).__name__ for r in refs if r() is not None]
        assert not alive, f"still alive after the run: {alive}"
    assert len(refs) == 4
