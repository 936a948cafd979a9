"""A Hugging Face hub model name, checked before loading: fail in a second, in one line.

Without a network, huggingface_hub retries a hub request five times with back-off (about 25 s)
before transformers gives up with a long message. :func:`check_hub_model` asks once, with a short
timeout: offline (``HF_HUB_OFFLINE=1``, or the hub cannot be reached) a model in the local cache is
used from there (offline mode is switched on for this process, so no retries), and one that is not
cached is a one-line error at once. Imports huggingface_hub only when called.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import NerStudioError

PROBE_TIMEOUT_S = 3.0


def hub_id(text: str) -> bool:
    """``owner/name`` (a Hugging Face model id), never a path: ./x, /x, ~/x, a/b/c are folders,
    and so is owner/name when a folder ``owner`` is here (a typo in a local path)."""
    return (re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", text) is not None
            and not Path(text).parent.exists())


def check_hub_model(name: str, probe_timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise NerStudioError (one line) when hub model ``name`` cannot be loaded: offline and not in
    the local cache. When the hub cannot be reached but the model is cached, switch this process to
    offline mode so that loading it does not wait on retries."""
    try:
        from huggingface_hub import constants, try_to_load_from_cache
    except ImportError:  # transformers needs it; let the load say what is missing
        return
    cached = _cached(try_to_load_from_cache, name)
    if _offline(constants):
        if not cached:
            raise NerStudioError(f"{name}: not a model folder, and not in the Hugging Face cache "
                                 "(offline: HF_HUB_OFFLINE is set)")
        return
    reason = _unreachable(constants, probe_timeout)
    if reason is None:
        return
    if not cached:
        raise NerStudioError(f"{name}: not a model folder, not in the Hugging Face cache, and "
                             f"the hub cannot be reached to download it ({reason})")
    go_offline(constants)


def _cached(try_to_load_from_cache, name: str) -> bool:
    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001 - an invalid repo id: not cached
        return False


def _offline(constants) -> bool:
    is_offline = getattr(constants, "is_offline_mode", None)
    if callable(is_offline):
        return bool(is_offline())
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def go_offline(constants=None) -> None:
    """Offline mode for the rest of this process (the environment, for libraries not yet
    imported, and huggingface_hub's constant, read at each request)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    if constants is None:
        from huggingface_hub import constants
    constants.HF_HUB_OFFLINE = True


def _unreachable(constants, timeout: float) -> str | None:
    """None when the hub endpoint answers within ``timeout`` (any HTTP status), else why not. Uses
    huggingface_hub's own HTTP session, so proxies and HF_ENDPOINT apply as for a download."""
    endpoint = getattr(constants, "ENDPOINT", "https://huggingface.co")
    try:
        from huggingface_hub.utils import get_session

        get_session().head(endpoint, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - httpx / requests errors alike: not reachable
        text = " ".join(str(exc).split()) or type(exc).__name__
        return f"{endpoint}: {text}"
    return None
