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


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.filmcrew = bpy.props.PointerProperty(type=FilmCrewSettings)


def unregister() -> None:
    del bpy.types.Scene.filmcrew
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
