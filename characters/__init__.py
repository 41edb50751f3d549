"""FilmCrew characters: anny bodies baked to kits (numpy), built in Blender by ``scene.characters``.

Importing this package never imports torch or bpy.
"""

from .kit import (
    KIT_VERSION,
    REGIONS,
    CharacterKit,
    appearance_key,
    ensure_kits,
    generate_kit,
    load_kit,
)

__all__ = ["KIT_VERSION", "REGIONS", "CharacterKit", "appearance_key", "ensure_kits",
           "generate_kit", "load_kit"]
