"""The ``nerstudio`` command. With no arguments it opens the desktop app; subcommands work on a
project file without a window. Errors end with one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .core.errors import NerStudioError


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 3 or any(p < 0 for p in parts) or sum(parts) <= 0:
        raise argparse.ArgumentTypeError("expected three non-negative numbers: train,dev,test")
    return tuple(parts)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="nerstudio", description="Label, train and try "
                                "named-entity recognition models. Without a command, opens the app.")
    p.add_argument("--version", action="version", version=f"nerstudio {__version__}")
    p.add_argument("--self-test", action="store_true", help="check the installation and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("gui", help="open the desktop app (the default without a command)")
    s.add_argument("project", nargs="?", help="project file to open")

    s = sub.add_parser("init", help="create a new project file")
    s.add_argument("project", help="path of the project file to create (e.g. news.nerproj)")
    s.add_argument("--name", help="display name (default: the file name)")
    s.add_argument("--labels", help="comma-separated entity types, e.g. PER,ORG,LOC,MISC")

    s = sub.add_parser("import", help="import annotated or raw data into a project",
                       description="Formats: conll, jsonl (tokens + ner_tags), hf (a DatasetDict "
                       "folder or a hub name), doccano, labelstudio, text. All files are imported "
                       "in one transaction: on any error the project is left unchanged.")
    s.add_argument("project")
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--format", choices=["conll", "jsonl", "hf", "doccano", "labelstudio", "text"],
                   help="input format (default: detected)")
    s.add_argument("--split", choices=["train", "dev", "test", "unassigned"],
                   help="put every sentence in this split (default: from the source or file name)")
    s.add_argument("--split-ratio", type=_ratios, metavar="TRAIN,DEV,TEST",
                   help="assign splits at random in these proportions, e.g. 0.8,0.1,0.1")
    s.add_argument("--seed", type=int, default=42, help="seed for --split-ratio (default 42)")
    s.add_argument("--scheme", choices=["auto", "iob2", "iob1", "bioes"], default="auto",
                   help="tag scheme: auto converts IOB1 and BIOES; iob2 is strict (default auto)")
    s.add_argument("--labels-file", type=Path,
                   help="JSON list of tag names for integer ner_tags (default: a *.labels.json beside)")
    s.add_argument("--no-sentence-split", action="store_true",
                   help="doccano / Label Studio: keep each record as one sentence")

    s = sub.add_parser("export", help="export a project's sentences")
    s.add_argument("project")
    s.add_argument("output", help="output file (a folder for --format hf)")
    s.add_argument("--format", choices=["conll", "jsonl", "hf", "doccano"], required=True)
    s.add_argument("--split", choices=["train", "dev", "test", "unassigned"])

    s = sub.add_parser("stats", help="sentences, tokens and entities per label and split")
    s.add_argument("project")
    s.add_argument("--json", action="store_true", help="print JSON")
    return p


def _open(path: str):
    from .core.store import ProjectStore

    return ProjectStore(path)


def cmd_init(a) -> int:
    from .core.store import ProjectStore

    labels = [x.strip() for x in a.labels.split(",") if x.strip()] if a.labels else []
    ProjectStore.create(a.project, a.name, labels).close()
    print(f"created {a.project}")
    return 0


def cmd_import(a) -> int:
    from tqdm import tqdm

    from .core.formats import import_file

    tag_names = None
    if a.labels_file:
        try:
            tag_names = json.loads(a.labels_file.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise NerStudioError(f"{a.labels_file}: cannot read label list: {exc}") from exc
    with _open(a.project) as store, tqdm(unit=" sentences", desc="importing", leave=False,
                                         disable=None) as bar:
        before, done = store.count(), 0
        with store.transaction():
            for f in a.files:
                bar.set_postfix_str(Path(f).name)
                done += import_file(store, f, a.format, split=a.split, ratios=a.split_ratio,
                                    seed=a.seed, scheme=a.scheme, tag_names=tag_names,
                                    sentence_split=not a.no_sentence_split,
                                    on_progress=lambda n, base=done: bar.update(base + n - bar.n))
        added = store.count() - before
    print(f"imported {added} sentences into {a.project}")
    return 0


def cmd_export(a) -> int:
    from .core.formats import export_file

    with _open(a.project) as store:
        n = export_file(store, a.output, a.format, a.split)
    print(f"exported {n} sentences to {a.output}")
    return 0


def cmd_stats(a) -> int:
    with _open(a.project) as store:
        stats = store.stats()
    if a.json:
        print(json.dumps(stats, indent=2))
        return 0
    labels = stats["labels"]
    print(f"project {stats['name']}: labels {', '.join(labels) or '(none)'}")
    header = f"{'split':<11}{'sentences':>10}{'labelled':>10}{'tokens':>10}{'entities':>10}"
    print(header + "".join(f"{l:>8}" for l in labels))
    for split in ("train", "dev", "test", "unassigned"):
        s = stats["splits"].get(split)
        if s:
            print(f"{split:<11}{s['sentences']:>10}{s['labelled']:>10}{s['tokens']:>10}"
                  f"{s['entities']:>10}" + "".join(f"{s['per_label'].get(l, 0):>8}" for l in labels))
    return 0


COMMANDS = {"init": cmd_init, "import": cmd_import, "export": cmd_export, "stats": cmd_stats}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.self_test:
            from .selftest import self_test
            return self_test()
        if args.command in (None, "gui"):
            from .ui.app import run_app
            return run_app(getattr(args, "project", None))
        return COMMANDS[args.command](args)
    except NerStudioError as exc:
        print(f"nerstudio: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nerstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
