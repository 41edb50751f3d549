"""The Blender UI: a sidebar panel that runs the same stages as the CLI in a worker process.

The panel never runs a stage in Blender's main thread: it starts ``python -m filmcrew.cli``
in a child process (the worker environment named in the preferences) and polls it from a
modal operator's timer, so Blender stays responsive and Esc cancels (finished frames are
kept; running the stage again resumes). Nothing here needs more than Blender's own Python.
"""

from __future__ import annotations

import bpy

from .operators import CLASSES as _OPERATOR_CLASSES
from .panel import CLASSES as _PANEL_CLASSES
from .properties import CLASSES as _PROPERTY_CLASSES
from .properties import FilmCrewSettings

_CLASSES = (*_PROPERTY_CLASSES, *_OPERATOR_CLASSES, *_PANEL_CLASSES)


@bpy.app.handlers.persistent
def clear_running(_file) -> None:
    """A file saved while a stage ran (or a crash mid-run) must not open with the buttons locked."""
    for scene in bpy.data.scenes:
        settings = getattr(scene, "filmcrew", None)
        if settings is not None and settings.running:
            settings.running = False


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.filmcrew = bpy.props.PointerProperty(type=FilmCrewSettings)
    bpy.app.handlers.load_post.append(clear_running)


def unregister() -> None:
    if clear_running in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(clear_running)
    del bpy.types.Scene.filmcrew
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
