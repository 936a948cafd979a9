"""Where a project's side folders are: one rule, imported by whoever needs it (runs, the
training slot) so that none of them imports the other for a path."""
from __future__ import annotations

import os
from pathlib import Path


def project_path(store_or_path) -> Path:
    """The project file's real path (symlinks resolved): the one place its runs are beside."""
    return Path(os.path.realpath(getattr(store_or_path, "path", store_or_path)))


def runs_dir(project) -> Path:
    """``<project>.runs`` beside the project's real file: opened through a symlink or not, a
    project finds the same runs."""
    real = project_path(project)
    return real.with_name(real.name + ".runs")
