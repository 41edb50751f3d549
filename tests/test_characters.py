"""Characters: anny kits (generation in a child process, the cache, loading) and Blender builds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from filmcrew.characters import REGIONS, CharacterKit, appearance_key, ensure_kits, load_kit
from filmcrew.characters.kit import KIT_VERSION, _kit_bytes
from filmcrew.errors import FilmCrewError
from filmcrew.plan.model import Appearance, Outfit

CHILD = Appearance(age_years=8, gender=0.0, outfit=Outfit(top="#e7b321", bottom="#3a6fb0"))
MAN = Appearance(age_years=63, gender=1.0, weight=0.6, skin_tone="#8d5a3f",
                 outfit=Outfit(top="#4f7a46", bottom="#6b5a44", hair="#a9a39a"))


# --------------------------------------------------------------------------- fast: no torch

def test_appearance_key_ignores_colours_and_follows_the_body():
    key = appearance_key(MAN)
    recoloured = MAN.model_copy(update={"skin_tone": "#ffffff", "outfit": Outfit(top="#000000")})
    assert appearance_key(recoloured) == key
    assert appearance_key(MAN.model_copy(update={"age_years": 64})) != key
    assert appearance_key(MAN.model_copy(update={"weight": 0.7})) != key
    assert len(key) == 16 and key == appearance_key(Appearance.model_validate(MAN.model_dump()))


def _tiny_kit() -> CharacterKit:
    rng = np.random.default_rng(0)
    return CharacterKit(
        vertices=rng.random((5, 3), dtype=np.float32),
        faces=np.array([[0, 1, 2], [2, 3, 4]], np.int32),
        bone_names=["root", "spine"], bone_parents=np.array([-1, 0], np.int32),
        bone_heads=np.zeros((2, 3), np.float32), bone_tails=np.ones((2, 3), np.float32),
        bone_matrices=np.stack([np.eye(3, dtype=np.float32)] * 2),
        weight_indices=np.zeros((5, 2), np.int16),
        weight_values=np.tile([1.0, 0.0], (5, 1)).astype(np.float32),
        region=np.arange(5, dtype=np.uint8), height_m=1.5, appearance_key="abc")


def test_load_kit_round_trip(tmp_path):
    kit = _tiny_kit()
    path = tmp_path / "kit.npz"
    path.write_bytes(_kit_bytes(kit))
    loaded = load_kit(path)
    assert loaded.bone_names == kit.bone_names and loaded.appearance_key == "abc"
    assert loaded.height_m == pytest.approx(1.5)
    for field in ("vertices", "faces", "bone_parents", "bone_heads", "bone_tails", "bone_matrices",
                  "weight_indices", "weight_values", "region"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(kit, field))


def test_load_kit_rejects_missing_and_stale_files(tmp_path):
    with pytest.raises(FilmCrewError, match="cannot read"):
        load_kit(tmp_path / "missing.npz")
    stale = tmp_path / "stale.npz"
    np.savez(stale, kit_version=np.int32(KIT_VERSION + 1))
    with pytest.raises(FilmCrewError, match="version"):
        load_kit(stale)


def test_generator_failure_raises_with_the_child_last_error_line(tmp_path):
    fake = tmp_path / "fake_python"
    fake.write_text(textwrap.dedent("""\
        #!/bin/sh
        echo "Traceback (most recent call last):" >&2
        echo "ModuleNotFoundError: No module named 'anny'" >&2
        exit 1
        """))
    fake.chmod(0o755)
    with pytest.raises(FilmCrewError, match="No module named 'anny'"):
        ensure_kits(appearances={"MAN": MAN}, cache_dir=tmp_path / "kits", python=fake)
    assert not list((tmp_path / "kits").iterdir())  # no kit, no leftover jobs file


def test_bad_jobs_file_fails_in_the_child(tmp_path):
    jobs = tmp_path / "jobs.json"
    jobs.write_text('{"%s": {"age_years": 500}}' % (tmp_path / "x.npz"))
    result = subprocess.run([sys.executable, "-m", "filmcrew.characters", "generate", "--jobs", str(jobs)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("ValidationError")


def test_characters_and_scene_modules_do_not_import_torch():
    code = ("import sys, filmcrew.characters, filmcrew.scene.characters; "
            "assert 'torch' not in sys.modules and 'anny' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --------------------------------------------------------------------------- slow: anny kits

@pytest.fixture(scope="module")
def kits(tmp_path_factory) -> dict[str, Path]:
    calls = []
    paths = ensure_kits(appearances={"KID": CHILD, "WALT": MAN}, cache_dir=tmp_path_factory.mktemp("kits"),
                        progress=calls.append)
    assert calls == ["kit 1/2: KID", "kit 2/2: WALT"]
    return paths


@pytest.mark.slow
def test_kits_have_believable_heights(kits):
    child, man = load_kit(kits["KID"]), load_kit(kits["WALT"])
    assert 1.15 < child.height_m < 1.40
    assert 1.65 < man.height_m < 1.90
    assert child.height_m < man.height_m - 0.3
    assert man.appearance_key == appearance_key(MAN)
    assert kits["WALT"].name == f"{appearance_key(MAN)}.npz"


@pytest.mark.slow
def test_kit_conventions(kits):
    kit = load_kit(kits["WALT"])
    assert kit.vertices.dtype == np.float32 and kit.vertices.shape[1] == 3
    assert kit.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-6)  # feet on the floor
    assert kit.height_m == pytest.approx(kit.vertices[:, 2].max())
    hips = kit.bone_heads[[kit.bone_index("upperleg01.L"), kit.bone_index("upperleg01.R")]]
    np.testing.assert_allclose(hips.mean(axis=0)[:2], 0.0, atol=1e-5)  # hips over the origin
    eyes = kit.vertices[kit.region == REGIONS.index("eyes")]
    assert eyes[:, 1].mean() < kit.bone_heads[kit.bone_index("head"), 1] - 0.05  # facing -Y
    assert kit.bone_parents[0] == -1 and all(p < i for i, p in enumerate(kit.bone_parents))
    np.testing.assert_allclose(kit.weight_values.sum(axis=1), 1.0, atol=1e-4)
    assert set(np.unique(kit.region)) == set(range(len(REGIONS)))
    shoes = kit.vertices[kit.region == REGIONS.index("shoes")]
    hair = kit.vertices[kit.region == REGIONS.index("hair")]
    assert shoes[:, 2].max() < 0.12 and hair[:, 2].min() > 0.8 * kit.height_m


@pytest.mark.slow
def test_ensure_kits_reuses_the_cache(kits):
    before = {cid: path.stat().st_mtime_ns for cid, path in kits.items()}
    calls = []
    again = ensure_kits(appearances={"KID": CHILD, "WALT": MAN, "TWIN": MAN},
                        cache_dir=kits["KID"].parent, progress=calls.append)
    assert again["TWIN"] == again["WALT"] == kits["WALT"]
    assert {cid: again[cid].stat().st_mtime_ns for cid in before} == before
    assert calls == []


# --------------------------------------------------------------------------- slow: Blender

@pytest.fixture
def bpy_scene():
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy


def _evaluated_vertices(bpy, body) -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = body.evaluated_get(depsgraph).data
    coords = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", coords)
    return coords.reshape(-1, 3) @ np.array(body.matrix_world)[:3, :3].T + np.array(body.matrix_world)[:3, 3]


@pytest.mark.slow
def test_build_character(kits, bpy_scene):
    bpy = bpy_scene
    from filmcrew.scene.characters import build_character

    kit = load_kit(kits["WALT"])
    cast = bpy.data.collections.new("Cast")  # not linked to the scene
    armature = build_character(kit=kit, name="WALT", appearance=MAN, collection=cast)
    body = bpy.data.objects["WALT_body"]
    assert armature.name == "WALT" and armature.type == "ARMATURE"
    assert body.parent == armature and list(body.users_collection) == [cast]
    assert list(armature.users_collection) == [cast]
    assert [b.name for b in armature.data.bones] == [*kit.bone_names, "jaw"]  # anny has no jaw: one is added
    assert {g.name for g in body.vertex_groups} == {*kit.bone_names, "jaw"}
    assert body.modifiers[0].type == "ARMATURE" and body.modifiers[0].object == armature
    assert [m.name for m in body.data.materials] == [f"WALT_{r}" for r in REGIONS]
    assert len(body.data.vertices) == len(kit.vertices) and body.data.polygons[0].use_smooth
    for index in (0, kit.bone_index("upperarm01.L"), kit.bone_index("foot.R")):
        bone = armature.data.bones[kit.bone_names[index]]
        np.testing.assert_allclose(np.array(bone.matrix_local)[:3, :3], kit.bone_matrices[index], atol=1e-4)
        np.testing.assert_allclose(bone.tail_local, kit.bone_tails[index], atol=1e-5)

    bpy.context.scene.collection.children.link(cast)
    coords = _evaluated_vertices(bpy, body)
    np.testing.assert_allclose(coords, kit.vertices, atol=1e-4)  # the rig matches the rest mesh


@pytest.mark.slow
def test_postures(kits, bpy_scene):
    bpy = bpy_scene
    from filmcrew.scene.characters import build_character, character_joints, set_posture

    kit = load_kit(kits["WALT"])
    armature = build_character(kit=kit, name="WALT", appearance=MAN)
    armature.location = (1.0, 2.0, 0.0)
    body = bpy.data.objects["WALT_body"]
    set_posture(armature, posture="stand", frame=1)
    set_posture(armature, posture="sit", frame=20, seat_height=0.45)
    with pytest.raises(ValueError, match="posture"):
        set_posture(armature, posture="lean", frame=30)

    scene = bpy.context.scene
    scene.frame_set(1)
    coords, joints = _evaluated_vertices(bpy, body), character_joints(armature)
    assert coords[:, 2].min() == pytest.approx(0.0, abs=0.01)
    assert coords[:, 2].max() == pytest.approx(kit.height_m, abs=0.02)
    assert joints["head"][2] > 0.9 * kit.height_m - 0.1 and joints["head"][0] == pytest.approx(1.0, abs=0.01)
    wrists = [armature.matrix_world @ armature.pose.bones[f"wrist.{s}"].head for s in "LR"]
    for wrist in wrists:  # arms hang down by the body, not in an A or T pose
        assert wrist.z < joints["pelvis"][2] + 0.05 and abs(wrist.x - 1.0) < 0.3

    scene.frame_set(20)
    coords, joints = _evaluated_vertices(bpy, body), character_joints(armature)
    local = coords - np.array([1.0, 2.0, 0.0])
    assert local[:, 2].min() == pytest.approx(0.0, abs=0.015)  # feet on the floor
    assert joints["pelvis"][:2] == pytest.approx((1.0, 2.0), abs=0.01)  # over the mark
    assert 0.45 + 0.04 < joints["pelvis"][2] < 0.45 + 0.13
    seat = (np.abs(local[:, 0]) < 0.25) & (local[:, 1] > -0.1) & (local[:, 1] < 0.25)
    assert local[seat, 2].min() == pytest.approx(0.45, abs=0.02)  # buttocks on the seat
    for foot in ("foot_l", "foot_r"):  # in front of the seat, towards -Y
        assert joints[foot][1] < 2.0 - 0.3 and joints[foot][2] < 0.12
    assert joints["head"][2] < 0.8 * kit.height_m


@pytest.mark.slow
def test_character_renders(kits, bpy_scene, tmp_path):
    bpy = bpy_scene
    from filmcrew.scene.characters import build_character, set_posture

    armature = build_character(kit=load_kit(kits["KID"]), name="KID", appearance=CHILD)
    set_posture(armature, posture="stand", frame=1)
    scene = bpy.context.scene
    camera = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(camera)
    camera.location = (0.0, -3.0, 0.7)
    camera.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.camera = camera
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    scene.collection.objects.link(sun)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.seed = 0
    scene.render.resolution_x = scene.render.resolution_y = 48
    scene.render.film_transparent = True
    scene.render.filepath = str(tmp_path / "kid.png")
    bpy.ops.render.render(write_still=True)
    image = bpy.data.images.load(str(tmp_path / "kid.png"))
    pixels = np.array(image.pixels[:]).reshape(48, 48, 4)
    body = pixels[..., 3] > 0.5
    assert 0.03 < body.mean() < 0.5  # the body covers part of the frame, centred
    assert body[:, 18:30].sum() > 0.8 * body.sum()
    assert pixels[body, :3].max() > 0.05  # lit, not black
