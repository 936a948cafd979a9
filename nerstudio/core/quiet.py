"""Keep the Hugging Face libraries quiet: no progress bars ("Loading weights", "Writing model
shards"), no advisory warnings, no tokenizers fork warning. nerstudio shows its own progress.

Qt-free and cheap: importing this module or calling :func:`quiet_libraries` never imports torch,
transformers, datasets or huggingface_hub. The environment variables are set first (the libraries
read them when they are imported); the libraries' own switches are applied only to those already
in ``sys.modules``. Code that imports transformers later calls :func:`quiet_loaded` right after
the import, which re-applies the switches unless the user asked for ``--verbose``.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings

ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
}
LOGGERS = ("transformers", "huggingface_hub", "datasets", "accelerate", "sentence_transformers")
WARNING_MODULES = r"(transformers|huggingface_hub|datasets|accelerate|tokenizers|torch)(\.|$)"

_verbose: bool | None = None   # None: quiet_libraries() not called yet (quiet_loaded() is quiet)


def quiet_libraries(verbose: bool = False) -> None:
    """Silence the Hugging Face libraries for the rest of the process; ``verbose=True`` leaves
    them alone (the CLI's ``--verbose``). Safe to call more than once, before or after the
    libraries are imported."""
    global _verbose
    _verbose = verbose
    if verbose:
        return
    for key, value in ENV.items():
        os.environ[key] = value
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=WARNING_MODULES)
    _apply_to_loaded()


def quiet_loaded() -> None:
    """Call right after importing transformers / datasets (training, inference): applies the
    libraries' own switches again, unless ``quiet_libraries(verbose=True)`` was called."""
    if _verbose:
        return
    if _verbose is None:
        quiet_libraries(False)
    else:
        _apply_to_loaded()


def is_verbose() -> bool:
    return bool(_verbose)


def _apply_to_loaded() -> None:
    modules = sys.modules
    with warnings.catch_warnings():  # e.g. "cannot disable progress bars: env var has priority"
        warnings.simplefilter("ignore")
        if "huggingface_hub" in modules:
            _try(lambda: modules["huggingface_hub"].utils.disable_progress_bars())
        lg = modules.get("transformers.utils.logging")
        if lg is not None:
            _try(lg.set_verbosity_error)
            _try(lg.disable_progress_bar)
        if "datasets" in modules:
            ds = modules["datasets"]
            _try(lambda: ds.disable_progress_bars())
            _try(lambda: ds.utils.logging.set_verbosity_error())


def _try(fn) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - an older or newer library without the switch: stay quiet
        pass
