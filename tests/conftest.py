"""Shared fixtures: every test starts from Blender's factory settings."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "assets" / "samples"


@pytest.fixture(autouse=True)
def factory_blender(request):
    """Reset Blender to an empty factory scene before each test that has bpy loaded."""
    import sys

    if "bpy" in sys.modules:
        import bpy

        bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


@pytest.fixture
def samples() -> Path:
    return SAMPLES
