"""Starting FilmCrew's own modules in child processes (workers), however it is installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def module_command(module: str, *, python: str | os.PathLike | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``python -m <package>.<module>``.

    Installed as a Blender extension the package is ``bl_ext.<repo>.<id>``, which a plain
    Python cannot import: the child then imports it by its folder name instead.
    """
    package = __package__ or "filmcrew"
    env = dict(os.environ)
    if package.split(".")[0] != "filmcrew":
        root = Path(__file__).resolve().parent
        package = root.name
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root.parent), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return [str(python or sys.executable), "-m", f"{package}.{module}"], env
