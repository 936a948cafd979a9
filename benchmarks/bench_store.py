"""Store benchmark: CoNLL-2003 import time, edit commit latency, memory while importing.

Usage: python benchmarks/bench_store.py [CONLL_DIR]   (default ../shared/data/conll2003)
Targets (issue 2): train import < 3 s on the 2-core CI machine; one annotation edit commits in
< 5 ms at the 99th percentile on a project holding all of CoNLL-2003; memory flat while importing
(peak Python allocations do not grow with the size of the file).
"""
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nerstudio.core.domain import Span  # noqa: E402
from nerstudio.core.formats import import_file  # noqa: E402
from nerstudio.core.store import ProjectStore  # noqa: E402


def peak_import_mib(path: Path, work: Path) -> float:
    with ProjectStore.create(work / f"mem-{path.name}.nerproj") as store:
        tracemalloc.start()
        import_file(store, path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else
                Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003")
    work = Path(tempfile.mkdtemp(prefix="bench_store_"))
    store = ProjectStore.create(work / "conll.nerproj")
    t0 = time.perf_counter()
    n = import_file(store, data / "train.txt")
    import_s = time.perf_counter() - t0
    for name in ("valid", "test"):
        import_file(store, data / f"{name}.txt")
    total = store.count()

    rng = random.Random(0)
    ids = [r.id for r in store.sentence_rows(0, total)]
    labels = store.label_set().names
    latencies = []
    for _ in range(1000):
        sid = rng.choice(ids)
        length = len(store.sentence(sid).tokens)
        start = rng.randrange(length)
        spans = [Span(start, min(length, start + rng.randint(1, 3)), rng.choice(labels))]
        t = time.perf_counter()
        store.set_spans(sid, spans, status="labelled")
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]

    big = work / "train_x4.txt"
    big.write_text("\n\n".join([(data / "train.txt").read_text()] * 4))
    mem1, mem4 = peak_import_mib(data / "train.txt", work), peak_import_mib(big, work)

    print(f"import train.txt: {n} sentences in {import_s:.2f} s (target < 3 s)")
    print(f"project: {total} sentences; edit commit p50 {p50:.2f} ms, p99 {p99:.2f} ms "
          f"(target p99 < 5 ms)")
    print(f"peak Python memory while importing: train {mem1:.1f} MiB, train x4 {mem4:.1f} MiB "
          f"(ratio {mem4 / mem1:.2f}; flat means about 1)")
    ok = import_s < 3 and p99 < 5 and mem4 / mem1 < 1.5
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
