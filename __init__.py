"""FilmCrew: an AI film crew inside Blender.

The repository root is both the Blender extension and the ``filmcrew`` Python package.
Importing it must stay cheap and must not import ``bpy``: the CLI and the pure-Python
layers (plan, staging, agents) import this package outside Blender too.
"""

__version__ = "0.1.0"


def register() -> None:
    """Register the extension's Blender classes (called by Blender)."""
    from .addon import register as _register

    _register()


def unregister() -> None:
    """Unregister the extension's Blender classes (called by Blender)."""
    from .addon import unregister as _unregister

    _unregister()
