"""The built extension: zip contents, install/enable/disable in a clean user folder, headless use.

Blender's extension operators run in a child Python with the ``bpy`` module and a temporary
``BLENDER_USER_RESOURCES``, the way a fresh Blender installation would see the zip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import bpy
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "samples" / "hallway_argument.fountain"
KEY = "sk-filmcrew-test-" + "7" * 24


def blender_ext_tool() -> Path:
    return Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ext")
    done = subprocess.run([sys.executable, str(blender_ext_tool()), "build", "--source-dir", str(REPO),
                           "--output-dir", str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = folder.glob("filmcrew-*.zip")
    return path


def test_the_zip_leaves_out_tests_scripts_and_the_environment(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"blender_manifest.toml", "__init__.py", "addon", "pipeline.py", "cli.py", "assets"} <= tops
    assert not tops & {"tests", "scripts", ".venv", ".git", ".pytest_cache", "docs", "filmcrew.egg-info"}
    assert not [n for n in names if "__pycache__" in n]


CHILD = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import bpy

    zip_path, sample, out, key = sys.argv[1:5]
    module = "bl_ext.user_default.filmcrew"
    facts = {}
    facts["install"] = sorted(bpy.ops.extensions.package_install_files(
        filepath=zip_path, repo="user_default", enable_on_install=True))
    facts["enabled"] = module in bpy.context.preferences.addons
    facts["from"] = sys.modules[module].__file__
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.resolution, prefs.fps = (64, 36), 6
    prefs.api_key = key
    facts["key_in_session"] = prefs.api_key == key

    settings = bpy.context.scene.filmcrew
    settings.source, settings.screenplay, settings.output = "FILE", sample, out
    facts["plan"] = sorted(bpy.ops.filmcrew.run_stage(stage="plan"))
    facts["status"] = settings.status
    facts["shots"] = [s.name for s in settings.shots]

    bpy.ops.wm.save_userpref()
    bpy.ops.wm.save_mainfile(filepath=str(Path(out).parent / "session.blend"), compress=False)
    facts["userpref"] = bpy.utils.resource_path("USER")

    bpy.ops.preferences.addon_disable(module=module)
    facts["disabled"] = module not in bpy.context.preferences.addons
    facts["classes_left"] = [n for n in dir(bpy.types) if n.startswith("FILMCREW_")]
    facts["scene_property_left"] = hasattr(bpy.types.Scene, "filmcrew")
    print("FACTS " + json.dumps(facts))
''')


def test_install_enable_run_headless_and_disable_in_a_clean_user_folder(extension_zip, tmp_path):
    user = tmp_path / "user"
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(user)}
    for name in ("OPENAI_API_KEY", "FILMCREW_LLM_API_KEY"):
        env.pop(name, None)
    out = tmp_path / "prod" / "out"
    done = subprocess.run([sys.executable, "-c", CHILD, str(extension_zip), str(SAMPLE), str(out), KEY],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    facts_line = [line for line in done.stdout.splitlines() if line.startswith("FACTS ")]
    assert done.returncode == 0 and facts_line, done.stdout[-3000:] + done.stderr[-3000:]
    facts = json.loads(facts_line[0].removeprefix("FACTS "))
    assert facts["install"] == ["FINISHED"] and facts["enabled"]
    assert facts["from"].startswith(str(user / "extensions" / "user_default" / "filmcrew"))
    assert facts["key_in_session"]
    assert facts["plan"] == ["FINISHED"] and facts["status"] == "plan done"
    plan = json.loads((out / "plan.json").read_text())
    assert plan["title"] == "The Audit" and plan["fps"] == 6 and plan["resolution"] == [64, 36]
    assert facts["shots"] == [s["id"] for s in plan["shots"]] and facts["shots"]
    assert facts["disabled"] and not facts["classes_left"] and not facts["scene_property_left"]
    # the key typed into the preferences is in no file: not the saved .blend, not userpref.blend,
    # not the production folder
    userpref = list(user.rglob("userpref.blend"))
    written = [tmp_path / "prod" / "session.blend", *userpref, *(p for p in out.rglob("*") if p.is_file())]
    assert (tmp_path / "prod" / "session.blend").is_file() and len(userpref) == 1
    assert [p for p in written if KEY.encode() in p.read_bytes()] == []
