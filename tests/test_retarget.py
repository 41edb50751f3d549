"""Motion clips (BVH, SMPL-X .npz) retargeted onto FilmCrew rigs, keyed in real Blender; SMPL-X bodies.

The clips are written by the tests with known motion (a joint turned by a known angle, a known
root translation, a known frame rate); the SMPL-X model is a small synthetic file with the
real shapes (55 joints), since the real model files are licensed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from filmcrew.characters.clips import SMPLX_JOINTS, read_bvh, read_clip, read_smplx
from filmcrew.characters.kit import load_kit
from filmcrew.characters.retarget import Rig, pose_heads, resample, retarget
from filmcrew.errors import FilmCrewError
from filmcrew.plan.model import Appearance

KIT_CACHE = Path.home() / ".cache" / "filmcrew-test-kits"

# --------------------------------------------------------------------------- synthetic clips

# A CMU-style skeleton: Y up, facing +Z, left on +X, centimetres, arms in a T pose.
_BVH_TREE = {
    "Hips": (None, (0, 0, 0)),
    "LeftUpLeg": ("Hips", (9, -6, 0)), "LeftLeg": ("LeftUpLeg", (0, -42, 0)),
    "LeftFoot": ("LeftLeg", (0, -41, 0)), "LeftToeBase": ("LeftFoot", (0, -7, 13)),
    "RightUpLeg": ("Hips", (-9, -6, 0)), "RightLeg": ("RightUpLeg", (0, -42, 0)),
    "RightFoot": ("RightLeg", (0, -41, 0)), "RightToeBase": ("RightFoot", (0, -7, 13)),
    "LowerBack": ("Hips", (0, 10, 0)), "Spine": ("LowerBack", (0, 15, 0)),
    "Spine1": ("Spine", (0, 15, 0)), "Neck": ("Spine1", (0, 12, 0)), "Head": ("Neck", (0, 10, 0)),
    "LeftShoulder": ("Spine1", (4, 8, 0)), "LeftArm": ("LeftShoulder", (14, 0, 0)),
    "LeftForeArm": ("LeftArm", (28, 0, 0)), "LeftHand": ("LeftForeArm", (25, 0, 0)),
    "RightShoulder": ("Spine1", (-4, 8, 0)), "RightArm": ("RightShoulder", (-14, 0, 0)),
    "RightForeArm": ("RightArm", (-28, 0, 0)), "RightHand": ("RightForeArm", (-25, 0, 0)),
}
_END_SITES = {"LeftToeBase": (0, 0, 5), "RightToeBase": (0, 0, 5), "Head": (0, 15, 0),
              "LeftHand": (8, 0, 0), "RightHand": (-8, 0, 0)}
_HIP_HEIGHT = 6 + 42 + 41 + 7  # the toes' base on the floor in the rest pose


def _write_bvh(path: Path, *, frames: int, fps: float, channels: dict[str, np.ndarray],
               root: np.ndarray, order: str = "ZXY") -> Path:
    """A BVH file: ``channels[joint]`` is (frames, 3) degrees in ``order``; ``root`` (frames, 3) cm."""
    lines = ["HIERARCHY"]
    names = list(_BVH_TREE)

    def joint(name: str, depth: int) -> None:
        pad = "  " * depth
        parent, offset = _BVH_TREE[name]
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}")
        rotations = " ".join(f"{axis}rotation" for axis in order)
        if parent is None:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rotations}")
        else:
            lines.append(f"{pad}  CHANNELS 3 {rotations}")
        for child in (n for n in names if _BVH_TREE[n][0] == name):
            joint(child, depth + 1)
        if name in _END_SITES:
            end = _END_SITES[name]
            lines.extend([f"{pad}  End Site", f"{pad}  {{",
                          f"{pad}    OFFSET {end[0]} {end[1]} {end[2]}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    joint("Hips", 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    for frame in range(frames):
        values = list(root[frame])
        for name in names:
            values += list(channels.get(name, np.zeros((frames, 3)))[frame])
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def _arm_raise_bvh(path: Path, *, frames: int = 121, fps: float = 120.0) -> Path:
    """The left arm rises from the T pose by 90 degrees * t (about the file's forward axis, Z)
    while the hips move 100 cm along +X over the clip; the feet stay on the floor."""
    t = np.arange(frames) / fps
    arm = np.zeros((frames, 3))
    arm[:, 0] = 90.0 * t / t[-1]  # Zrotation first in ZXY order
    root = np.zeros((frames, 3))
    root[:, 0] = 100.0 * t / t[-1]
    root[:, 1] = _HIP_HEIGHT
    return _write_bvh(path, frames=frames, fps=fps, channels={"LeftArm": arm}, root=root)


def _smplx_motion(path: Path, *, frames: int = 31, fps: float = 30.0, raise_deg: float = 70.0,
                  split: bool = False, **extra) -> Path:
    """AMASS-style SMPL-X motion, Z up: the left arm rises to ``raise_deg`` by the last frame."""
    poses = np.zeros((frames, 165))
    poses[:, 0] = math.pi / 2  # root_orient: the Y-up body stood up in a Z-up world
    angle = np.radians(raise_deg) * np.arange(frames) / (frames - 1)
    shoulder = SMPLX_JOINTS.index("left_shoulder")
    poses[:, 3 * shoulder + 2] = angle  # about the body's forward axis: the arm goes up
    trans = np.zeros((frames, 3))
    trans[:, 1] = np.linspace(0.0, 0.5, frames)
    data = {"trans": trans, "mocap_frame_rate": np.array(fps), "betas": np.zeros(16)}
    if split:
        data.update(root_orient=poses[:, :3], pose_body=poses[:, 3:66], pose_hand=poses[:, 75:])
    else:
        data["poses"] = poses
    data.update(extra)
    np.savez(path, **data)
    return path


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


# --------------------------------------------------------------------------- rigs

@pytest.fixture(scope="module")
def anny_kit():
    """An anny kit, generated once into a per-user cache (about 10 s the first time)."""
    from filmcrew.characters import ensure_kits

    paths = ensure_kits(appearances={"A": Appearance()}, cache_dir=KIT_CACHE)
    return load_kit(paths["A"])


# --------------------------------------------------------------------------- readers

def test_bvh_reader_normalises_axes_and_units(tmp_path):
    clip = read_bvh(_arm_raise_bvh(tmp_path / "arm.bvh"), units="cm")
    assert clip.frames == 121 and clip.fps == pytest.approx(120.0)
    rest = clip.rest_positions()
    left_hip, head = rest[clip.roles["left_hip"]], rest[clip.roles["head"]]
    np.testing.assert_allclose(left_hip, [0.09, 0.0, -0.06], atol=1e-9)  # left on +X, Z up
    assert head[2] > 0.5
    toe = rest[clip.roles["left_foot"]] - rest[clip.roles["left_ankle"]]
    assert toe[1] < -0.1  # the file's forward (+Z) is FilmCrew's -Y
    np.testing.assert_allclose(clip.root_positions[-1], [1.0, 0.0, 0.96], atol=1e-9)
    assert read_bvh(tmp_path / "arm.bvh").offsets == pytest.approx(clip.offsets)  # auto: cm


def test_bvh_channel_order_is_honoured(tmp_path):
    frames = 2
    turn = np.zeros((frames, 3))
    turn[:, 0], turn[:, 1] = 90.0, 90.0  # first two channels of the order
    root = np.tile([0.0, _HIP_HEIGHT, 0.0], (frames, 1))
    zx = read_bvh(_write_bvh(tmp_path / "zx.bvh", frames=frames, fps=30, root=root,
                             channels={"LeftArm": turn}, order="ZXY"), units="cm")
    xz = read_bvh(_write_bvh(tmp_path / "xz.bvh", frames=frames, fps=30, root=root,
                             channels={"LeftArm": turn}, order="XZY"), units="cm")
    arm = zx.roles["left_elbow"]
    # file axes: Rz(90) Rx(90) takes the arm (+X) to +Y; Rx(90) Rz(90) takes it to +Z
    up, forward = zx.positions()[0, arm] - zx.positions()[0, zx.roles["left_shoulder"]], \
        xz.positions()[0, arm] - xz.positions()[0, xz.roles["left_shoulder"]]
    assert _angle(up, np.array([0.0, 0.0, 1.0])) < 1e-6  # file +Y is up
    assert _angle(forward, np.array([0.0, -1.0, 0.0])) < 1e-6  # file +Z is the front


@pytest.mark.parametrize("text, message", [
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 x\n", "expected a number"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n", "file ends"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Wrotation\n}\n", "unknown channel"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 2\n"
     "Frame Time: 0.1\n0\n", "need 2 numbers"),
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 1 Xrotation\n}\nMOTION\nFrames: 1\n"
     "Frame Time: 0.1\n0\n", "lacks joints for: neck"),
    ("SKELETON\n", "expected 'HIERARCHY'"),
])
def test_malformed_bvh_gives_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(FilmCrewError, match=message) as error:
        read_bvh(path)
    assert str(path) in str(error.value)


def test_smplx_reader_split_keys_and_up_axis(tmp_path):
    full = read_smplx(_smplx_motion(tmp_path / "full.npz"))
    split = read_smplx(_smplx_motion(tmp_path / "split.npz", split=True))
    np.testing.assert_allclose(full.rotations, split.rotations, atol=1e-12)
    assert full.fps == 30.0 and full.frames == 31
    spine = full.positions()[:, full.roles["neck"]] - full.positions()[:, full.roles["pelvis"]]
    assert (spine[:, 2] > 0.3).all()  # detected Z up: the body stands
    forced = read_smplx(tmp_path / "full.npz", up_axis="y")  # the wrong axis: lying down
    spine = forced.positions()[:, forced.roles["neck"]] - forced.positions()[:, forced.roles["pelvis"]]
    assert (np.abs(spine[:, 2]) < 0.1).all()


@pytest.mark.parametrize("change, message", [
    ({"poses": np.zeros((5, 99))}, "poses has shape"),
    ({"trans": np.zeros((4, 3))}, "trans has shape"),
    ({"mocap_frame_rate": np.array(-1.0)}, "positive frame rate"),
])
def test_malformed_smplx_gives_clear_errors(tmp_path, change, message):
    path = _smplx_motion(tmp_path / "bad.npz", frames=5, **change)
    with pytest.raises(FilmCrewError, match=message) as error:
        read_smplx(path)
    assert str(path) in str(error.value)


def test_smplx_missing_keys_and_unknown_files(tmp_path):
    path = tmp_path / "no_rate.npz"
    np.savez(path, poses=np.zeros((3, 165)), trans=np.zeros((3, 3)))
    with pytest.raises(FilmCrewError, match="mocap_frame_rate"):
        read_smplx(path)
    np.savez(path, trans=np.zeros((3, 3)), mocap_frame_rate=30)
    with pytest.raises(FilmCrewError, match="lacks 'poses'"):
        read_smplx(path)
    with pytest.raises(FilmCrewError, match="unknown motion clip type"):
        read_clip(tmp_path / "clip.fbx")
    with pytest.raises(FilmCrewError, match="up_axis"):
        read_smplx(_smplx_motion(tmp_path / "ok.npz"), up_axis="x")


def test_resampling_to_the_plan_rate(tmp_path):
    clip = read_bvh(_arm_raise_bvh(tmp_path / "arm.bvh"), units="cm")
    slow = resample(clip, fps=24.0)
    assert slow.frames == 25 and slow.fps == 24.0
    np.testing.assert_allclose(slow.root_positions[:, 0], np.arange(25) / 24.0, atol=1e-9)
    positions = slow.positions()
    elbow = positions[:, slow.roles["left_elbow"]] - positions[:, slow.roles["left_shoulder"]]
    rise = np.degrees(np.arctan2(elbow[:, 2], elbow[:, 0]))
    np.testing.assert_allclose(rise, 90.0 * np.arange(25) / 24.0, atol=1e-6)


def test_alignment_turns_the_clip_to_the_character_facing(anny_kit, tmp_path):
    frames = 3
    root = np.tile([0.0, _HIP_HEIGHT, 0.0], (frames, 1))
    root[:, 2] = [0.0, 10.0, 20.0]  # walking 10 cm per frame along the file's +Z
    turn = np.zeros((frames, 3))
    turn[:, 2] = 90.0  # Yrotation (last in ZXY): the body faces the file's +X, sideways
    clip = read_bvh(_write_bvh(tmp_path / "side.bvh", frames=frames, fps=30, root=root,
                               channels={"Hips": turn}), units="cm")
    rig = Rig.from_kit(anny_kit)
    toe, ankle = rig.index("toe3-1.L"), rig.index("foot.L")
    hips = [rig.index("upperleg01.L"), rig.index("upperleg01.R")]
    aligned = pose_heads(retarget(clip, rig=rig, fps=30), rig=rig)
    flat = np.array([1.0, 1.0, 0.0])  # compare where the feet point on the floor
    assert _angle(flat * (aligned[0, toe] - aligned[0, ankle]), np.array([0.0, -1.0, 0.0])) < 10.0
    np.testing.assert_allclose(aligned[0, hips].mean(axis=0)[:2], 0.0, atol=1e-6)  # on the mark
    step = aligned[2, hips].mean(axis=0) - aligned[0, hips].mean(axis=0)
    assert step[0] < -0.1 and abs(step[1]) < 1e-6  # a side step to the body's right: -X now
    kept = pose_heads(retarget(clip, rig=rig, fps=30, align=False), rig=rig)
    assert _angle(flat * (kept[0, toe] - kept[0, ankle]), np.array([1.0, 0.0, 0.0])) < 10.0
    step = kept[2, hips].mean(axis=0) - kept[0, hips].mean(axis=0)
    assert step[1] < -0.1 and abs(step[0]) < 1e-6  # the file's +Z is FilmCrew's -Y


# --------------------------------------------------------------------------- Blender

def _build(kit, name="ACTOR"):
    from filmcrew.scene.characters import build_character

    return build_character(kit=kit, name=name, appearance=Appearance())


def _world_heads(armature, names: list[str]) -> np.ndarray:
    world = armature.matrix_world
    return np.array([tuple(world @ armature.pose.bones[name].head) for name in names])


def test_bvh_keyed_on_the_anny_rig(anny_kit, tmp_path):
    import bpy

    from filmcrew.scene.clips import key_clip

    clip = read_bvh(_arm_raise_bvh(tmp_path / "arm.bvh"), units="cm")
    armature = _build(anny_kit)
    armature.location = (2.0, 3.0, 0.0)
    last = key_clip(armature, clip=clip, start_frame=10, fps=24.0)
    assert last == 10 + 24
    scene = bpy.context.scene
    source = resample(clip, fps=24.0)
    positions = source.positions()
    shoulder, elbow = source.roles["left_shoulder"], source.roles["left_elbow"]
    hips = ["upperleg01.L", "upperleg01.R"]
    rig = Rig.from_kit(anny_kit)
    hip, knee, ankle = (rig.heads[rig.index(f"{bone}.L")] for bone in ("upperleg01", "lowerleg01", "foot"))
    scale = (np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)) / 0.83  # the clip's leg: 83 cm
    for k in (0, 8, 24):
        scene.frame_set(10 + k)
        upper, lower = _world_heads(armature, ["upperarm01.L", "lowerarm01.L"])
        rise = math.radians(90 * k / 24)
        expected = np.array([math.cos(rise), 0.0, math.sin(rise)])
        assert _angle(lower - upper, expected) < 5.0
        assert _angle(lower - upper, positions[k, elbow] - positions[k, shoulder]) < 5.0
        for side in "LR":  # the legs point straight down, as in the clip
            knee, ankle = _world_heads(armature, [f"lowerleg01.{side}", f"foot.{side}"])
            assert _angle(ankle - knee, np.array([0.0, 0.0, -1.0])) < 5.0
        centre = _world_heads(armature, hips).mean(axis=0)
        assert centre[0] == pytest.approx(2.0 + scale * k / 24, abs=0.01)  # scaled root motion
        assert centre[1] == pytest.approx(3.0, abs=0.01)
        names = ["toe3-1.L", "toe3-1.R", "foot.L", "foot.R"]
        feet = _world_heads(armature, names)
        rest = anny_kit.bone_heads[[anny_kit.bone_index(n) for n in names], 2]
        assert (feet[:, 2] - rest).min() == pytest.approx(0.0, abs=0.005)  # on the floor
    scene.frame_set(10)
    first = _world_heads(armature, ["lowerarm01.L", "upperleg01.L"])
    scene.frame_set(3)  # before the clip its first key holds
    before = _world_heads(armature, ["lowerarm01.L", "upperleg01.L"])
    np.testing.assert_allclose(before, first, atol=1e-5)


def test_numpy_forward_kinematics_matches_blender(anny_kit, tmp_path):
    import bpy

    from filmcrew.scene.clips import key_motion, rig_from_armature

    armature = _build(anny_kit)
    rig = rig_from_armature(armature)
    np.testing.assert_allclose(rig.heads[:len(anny_kit.bone_names)], anny_kit.bone_heads, atol=1e-5)
    assert rig.bone_names[len(anny_kit.bone_names):] == ["jaw"]  # the jaw the build adds
    clip = read_smplx(_smplx_motion(tmp_path / "raise.npz"))
    motion = retarget(clip, rig=rig, fps=30.0)
    key_motion(armature, motion=motion, start_frame=1)
    heads = pose_heads(motion, rig=rig)
    for k in (0, 15, 30):
        bpy.context.scene.frame_set(1 + k)
        np.testing.assert_allclose(_world_heads(armature, rig.bone_names), heads[k], atol=2e-4)


def test_smplx_arm_raise_on_the_anny_rig(anny_kit, tmp_path):
    import bpy

    from filmcrew.scene.clips import key_clip

    clip = read_smplx(_smplx_motion(tmp_path / "raise.npz", frames=31, fps=30.0))
    armature = _build(anny_kit)
    armature.rotation_euler = (0.0, 0.0, math.pi / 2)  # the character faces +X
    last = key_clip(armature, clip=clip, start_frame=1, fps=15.0)
    assert last == 1 + 15  # one second at 15 fps
    positions = resample(clip, fps=15.0).positions()
    shoulder, elbow = clip.roles["left_shoulder"], clip.roles["left_elbow"]
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    for k in (0, 7, 15):
        bpy.context.scene.frame_set(1 + k)
        upper, lower = _world_heads(armature, ["upperarm01.L", "lowerarm01.L"])
        source = turn @ (positions[k, elbow] - positions[k, shoulder])
        assert _angle(lower - upper, source) < 5.0
    raised = turn @ [math.cos(math.radians(70)), 0.0, math.sin(math.radians(70))]
    assert _angle(lower - upper, raised) < 8.0  # the template's arm is near the T pose's
    head, pelvis = _world_heads(armature, ["head", "spine05"])
    assert _angle(head - pelvis, np.array([0.0, 0.0, 1.0])) < 10.0  # standing, not lying


# --------------------------------------------------------------------------- SMPL-X bodies

def _synthetic_smplx_model(folder: Path, *, gender: str = "NEUTRAL", seed: int = 0) -> Path:
    """A small SMPL-X model file with the real structure: 55 joints, a cube of 8 vertices
    around each joint of the mean body (skinned to it alone), 10 shape and 10 expression
    directions, 486 pose directions, hand PCA and landmark arrays of the real shapes."""
    from filmcrew.characters.clips import SMPLX_PARENTS, SMPLX_TEMPLATE

    rng = np.random.default_rng(seed)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    vertices = (SMPLX_TEMPLATE[:, None, :] + 0.02 * corners[None]).reshape(-1, 3)
    count = len(vertices)
    quads = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))
    faces = [(8 * j + a, 8 * j + b, 8 * j + c) for j in range(55) for q in quads
             for a, b, c in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))]
    owner = np.repeat(np.arange(55), 8)
    weights = np.eye(55)[owner]
    kintree = np.array([SMPLX_PARENTS, range(55)], dtype=np.int64)
    kintree[0, 0] = 2 ** 32 - 1  # as in the real files
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"SMPLX_{gender}.npz"
    np.savez(path, v_template=vertices, f=np.array(faces, np.uint32), J_regressor=weights.T / 8.0,
             weights=weights, kintree_table=kintree,
             shapedirs=rng.normal(0.0, 0.01, (count, 3, 20)), posedirs=np.zeros((count, 3, 486)),
             hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
             hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
             lmk_faces_idx=np.zeros(51, np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3),
             dynamic_lmk_faces_idx=np.zeros((79, 17), np.int64),
             dynamic_lmk_bary_coords=np.full((79, 17, 3), 1 / 3))
    return path


@pytest.fixture(scope="module")
def smplx_models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("smplx_models")
    _synthetic_smplx_model(folder)
    return folder


BETAS = np.array([1.5, -1.0, 0.5, 0, 0, 0, 0, 0, 0, 0])


@pytest.fixture(scope="module")
def smplx_body(smplx_models, tmp_path_factory):
    """The SMPL-X kit, built by the smplx package in a child process (torch stays out of here)."""
    import subprocess
    import sys

    path = tmp_path_factory.mktemp("smplx_kit") / "kit.npz"
    code = ("import sys, numpy as np; from pathlib import Path; "
            "from filmcrew.characters.smplx_kit import generate_smplx_kit; "
            "from filmcrew.plan.model import Appearance; "
            "generate_smplx_kit(appearance=Appearance(gender=0.5), path=Path(sys.argv[1]), "
            "folder=Path(sys.argv[2]), betas=np.array(sys.argv[3].split(','), float))")
    subprocess.run([sys.executable, "-c", code, str(path), str(smplx_models),
                    ",".join(map(str, BETAS))], check=True, timeout=300, capture_output=True)
    return load_kit(path)


def test_model_folder_configuration(smplx_models, tmp_path, monkeypatch):
    from filmcrew.characters.smplx_kit import MODELS_ENV, model_file, model_folder

    monkeypatch.delenv(MODELS_ENV, raising=False)
    assert model_folder() is None
    monkeypatch.setenv(MODELS_ENV, str(smplx_models))
    assert model_folder() == smplx_models
    assert model_file(smplx_models, gender="female").name == "SMPLX_NEUTRAL.npz"  # the fallback
    with pytest.raises(FilmCrewError, match="no SMPL-X model") as error:
        model_folder(tmp_path)
    assert str(tmp_path) in str(error.value)
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "missing"))
    with pytest.raises(FilmCrewError, match=MODELS_ENV):
        model_folder()


def test_smplx_kit_follows_the_kit_conventions(smplx_body, smplx_models):
    from filmcrew.characters.kit import REGIONS
    from filmcrew.characters.smplx_kit import rest_joints
    from filmcrew.scene.characters import POSTURE_BONES

    kit = smplx_body
    assert kit.appearance_key.startswith("smplx-") and len(kit.bone_names) == 55
    assert set(POSTURE_BONES) | {"neck01", "head", "wrist.L", "spine01"} <= set(kit.bone_names)
    assert kit.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-6)  # feet on the floor
    hips = kit.bone_heads[[kit.bone_index("upperleg01.L"), kit.bone_index("upperleg01.R")]]
    np.testing.assert_allclose(hips.mean(axis=0)[:2], 0.0, atol=1e-6)
    assert hips[0, 0] > hips[1, 0]  # left on +X
    toes, ankle = kit.bone_heads[kit.bone_index("toes.L")], kit.bone_heads[kit.bone_index("foot.L")]
    assert toes[1] < ankle[1] - 0.05  # facing -Y
    assert kit.bone_heads[kit.bone_index("head"), 2] > 1.2  # Z up
    assert all(p < i for i, p in enumerate(kit.bone_parents)) and kit.bone_parents[0] == -1
    np.testing.assert_allclose(kit.weight_values.sum(axis=1), 1.0, atol=1e-5)
    ys = kit.bone_matrices[:, :, 1]
    directions = kit.bone_tails - kit.bone_heads
    lengths = np.linalg.norm(directions, axis=1, keepdims=True)
    np.testing.assert_allclose(ys, directions / lengths, atol=1e-5)

    def region(bone: str) -> str:
        mine = kit.weight_indices[:, 0] == kit.bone_index(bone)
        return REGIONS[np.bincount(kit.region[mine]).argmax()]

    assert region("toes.L") == "shoes" and region("spine02") == "top"
    assert region("lowerleg01.R") == "bottom" and region("finger2-2.L") == "skin"
    # the shaped joints: numpy's rest_joints agrees with the body smplx built
    joints = rest_joints(folder=smplx_models, betas=BETAS)
    np.testing.assert_allclose(kit.bone_heads - kit.bone_heads[0],
                               (joints - joints[0]) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]).T,
                               atol=1e-5)
    assert not np.allclose(joints, rest_joints(folder=smplx_models), atol=1e-3)  # betas count


def test_smplx_body_poses_and_takes_clips_in_blender(smplx_body, smplx_models, tmp_path):
    import bpy

    from filmcrew.characters.smplx_kit import rest_joints
    from filmcrew.scene.characters import character_joints, set_posture
    from filmcrew.scene.clips import key_clip

    armature = _build(smplx_body, name="SMPLX")
    set_posture(armature, posture="stand", frame=1)  # the posing code works on this rig
    bpy.context.scene.frame_set(1)
    joints = character_joints(armature)
    wrist, shoulder = _world_heads(armature, ["wrist.L", "upperarm01.L"])
    assert shoulder[2] - wrist[2] > 0.45 and joints["foot_l"][2] < 0.12  # arms hang, feet down
    clip = read_smplx(_smplx_motion(tmp_path / "raise.npz"),
                      rest_joints=rest_joints(folder=smplx_models, betas=BETAS))
    key_clip(armature, clip=clip, start_frame=11, fps=30.0)
    positions = clip.positions()
    shoulder, elbow = clip.roles["left_shoulder"], clip.roles["left_elbow"]
    for k in (0, 30):
        bpy.context.scene.frame_set(11 + k)
        upper, lower = _world_heads(armature, ["upperarm01.L", "lowerarm01.L"])
        assert _angle(lower - upper, positions[k, elbow] - positions[k, shoulder]) < 5.0
    depsgraph = bpy.context.evaluated_depsgraph_get()
    body = bpy.data.objects["SMPLX_body"].evaluated_get(depsgraph).data
    coords = np.array([tuple(v.co) for v in body.vertices])
    elbow_cube = coords[8 * elbow:8 * elbow + 8].mean(axis=0)
    np.testing.assert_allclose(elbow_cube, lower, atol=0.01)  # the skin follows the raised arm


# --------------------------------------------------------------------------- a plan beat plays a clip

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "hallway_argument.fountain"


def _plan_with_clip(out: Path, clip: str):
    from filmcrew import pipeline
    from filmcrew.plan.io import load_plan, save_plan
    from filmcrew.plan.model import ActionBeat

    pipeline.plan_production(screenplay=SAMPLE, out=out)
    plan = load_plan(out / "plan.json")
    scene = plan.scenes[0]
    actor = scene.cast[0]
    beats = [*scene.beats, ActionBeat(character=actor, action="perform", clip=clip, duration=1.0)]
    scene_index = 0
    shots = [s for s in plan.shots if s.scene == scene.id]
    last = shots[-1].model_copy(update={"last_beat": len(beats) - 1})
    plan = plan.model_copy(update={
        "scenes": [scene.model_copy(update={"beats": beats}), *plan.scenes[1:]],
        "shots": [last if s.id == last.id else s for s in plan.shots]})
    save_plan(plan, out / "plan.json")
    return plan, scene_index, len(beats) - 1, actor


@pytest.mark.slow
def test_a_perform_beat_plays_its_clip_in_the_staged_scene(tmp_path):
    import bpy

    from filmcrew import pipeline
    from filmcrew.staging.timeline import build_timeline

    out = tmp_path / "prod"
    (out / "clips").mkdir(parents=True)
    _arm_raise_bvh(out / "clips" / "raise.bvh")
    plan, si, bi, actor = _plan_with_clip(out, "clips/raise.bvh")
    pipeline.stage_production(out=out)
    timeline = build_timeline(plan)
    beat = timeline.beats[(plan.scenes[si].id, bi)]
    first, last = timeline.frame_of(beat.start), timeline.frame_of(beat.end) - 1
    bpy.ops.wm.open_mainfile(filepath=str(out / "scene.blend"))
    armature = bpy.data.objects[actor]

    def arm_up(frame: int) -> float:
        bpy.context.scene.frame_set(frame)
        bones = armature.pose.bones
        direction = armature.matrix_world.to_3x3() @ (bones["lowerarm01.L"].head - bones["upperarm01.L"].head)
        return float(direction.normalized().z)

    assert arm_up(last) > 0.7                # raised 90 degrees from the T pose: straight up
    assert arm_up(last) > arm_up(first - 1) + 0.5   # the clip, not the baked motion, moves it
    assert arm_up(first) < arm_up((first + last) // 2) < arm_up(last)


def test_a_missing_clip_names_the_beat(tmp_path):
    from filmcrew import pipeline
    from filmcrew.errors import StageError

    out = tmp_path / "prod"
    _, si, bi, _ = _plan_with_clip(out, "clips/nowhere.bvh")
    with pytest.raises(StageError, match=rf"scenes\[{si}\]\.beats\[{bi}\]\.clip: motion clip not found"):
        pipeline.stage_production(out=out)


def test_configured_smplx_models_replace_anny_in_the_kit_cache(smplx_models, tmp_path, monkeypatch):
    from filmcrew.characters.kit import ensure_kits, load_kit
    from filmcrew.plan.model import Appearance

    monkeypatch.setenv("FILMCREW_SMPLX_MODELS", str(smplx_models))
    paths = ensure_kits(appearances={"ANA": Appearance(gender=0.1)}, cache_dir=tmp_path)
    assert paths["ANA"].name.startswith("smplx-")
    kit = load_kit(paths["ANA"])
    assert len(kit.vertices) == 440                       # the synthetic SMPL-X body, not anny's
    assert {"root", "upperleg01.L", "foot.R", "head"} <= set(kit.bone_names)
