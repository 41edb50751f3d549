"""Characters in Blender: an armature and a skinned body built from a character kit, and postures.

bpy only: the kit (``characters.kit``) is plain numpy; torch and anny never load here.

Conventions: the armature object's origin is the character's mark on the floor; in its local
space Z is up and the character faces -Y (Blender's front view looks at its face). Standing,
the hip joints are over the origin; sitting, the origin is the centre of the seat, under the
hip joints, and the feet rest on the floor in front (towards -Y).
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ..characters.jaw import JAW, place_jaw
from ..characters.kit import BOTTOM, EYES, HAIR, REGIONS, SHOES, SKIN, TOP, CharacterKit
from ..plan.model import Appearance
from ..staging.poses import load_library

POSTURES = ("stand", "sit")
ROOT = "root"
HIPS = ("upperleg01.L", "upperleg01.R")
"""Thigh bones; their heads are the hip joints."""
POSTURE_BONES = (
    ROOT,
    "upperleg01.L", "lowerleg01.L", "foot.L",
    "upperleg01.R", "lowerleg01.R", "foot.R",
    "upperarm01.L", "lowerarm01.L",
    "upperarm01.R", "lowerarm01.R",
)
"""The pose bones a posture keys (all of them, for every posture, so postures blend)."""
_SEGMENTS = {
    "upperleg01": "lowerleg01",  # hip -> knee
    "lowerleg01": "foot",        # knee -> ankle
    "upperarm01": "lowerarm01",  # shoulder -> elbow
    "lowerarm01": "wrist",       # elbow -> wrist
}
"""Limb segments: a bone and the bone whose head ends the segment (the next joint)."""
SEAT_DEPTH_PROP = "filmcrew_seat_depth"
HEIGHT_PROP = "filmcrew_height"
_ROUGHNESS = {SKIN: 0.5, TOP: 0.8, BOTTOM: 0.75, SHOES: 0.45, HAIR: 0.65, EYES: 0.15}
_EYE_COLOUR = "#120d0a"


# --------------------------------------------------------------------------- building

def build_character(*, kit: CharacterKit, name: str, appearance: Appearance,
                    collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """Build a rigged, skinned, coloured character standing in anny's rest pose.

    Args:
        kit: the character's kit (``characters.load_kit``).
        name: the armature object's name (e.g. ``"MAYA"``); the body mesh is ``f"{name}_body"``.
        appearance: colours of the skin, the outfit (top, bottom, shoes) and the hair.
        collection: where both objects go (default: the scene's master collection).

    Returns:
        The armature object; the body mesh is its child, deformed by an Armature modifier
        through one vertex group per bone.
    """
    collection = collection or bpy.context.scene.collection
    armature = _build_armature(kit=kit, name=name, collection=collection)
    body = _build_body(kit=kit, name=f"{name}_body", collection=collection)
    _assign_materials(body=body, kit=kit, name=name, appearance=appearance)
    body.parent = armature
    modifier = body.modifiers.new(name="Armature", type="ARMATURE")
    modifier.object = armature
    armature[HEIGHT_PROP] = float(kit.height_m)
    armature[SEAT_DEPTH_PROP] = seat_depth(kit)
    if JAW not in kit.bone_names and {"eye.L", "eye.R", "head"} <= set(kit.bone_names):
        add_jaw(armature=armature, body=body, kit=kit)
    return armature


def _build_armature(*, kit: CharacterKit, name: str,
                    collection: bpy.types.Collection) -> bpy.types.Object:
    data = bpy.data.armatures.new(name)
    armature = bpy.data.objects.new(name, data)
    collection.objects.link(armature)
    with _edit_mode(armature):
        _add_edit_bones(data=data, kit=kit)
    armature.data.display_type = "STICK"
    return armature


def _add_edit_bones(*, data: bpy.types.Armature, kit: CharacterKit) -> None:
    bones = []
    for index, bone_name in enumerate(kit.bone_names):
        bone = data.edit_bones.new(bone_name)
        bone.head = Vector(kit.bone_heads[index].tolist())
        bone.tail = Vector(kit.bone_tails[index].tolist())
        bone.align_roll(Vector(kit.bone_matrices[index][:, 2].tolist()))
        bones.append(bone)
    for bone, parent in zip(bones, kit.bone_parents.tolist()):
        if parent >= 0:
            bone.parent = bones[parent]
            bone.use_connect = False


class _edit_mode:
    """Edit mode on ``armature``, made active (and visible to the view layer) for the duration."""

    def __init__(self, armature: bpy.types.Object) -> None:
        self.armature = armature
        self.linked = False

    def __enter__(self) -> None:
        view_layer = bpy.context.view_layer
        scene = bpy.context.scene
        in_scene = [c for c in self.armature.users_collection
                    if c == scene.collection or c in scene.collection.children_recursive]
        if not in_scene:
            scene.collection.objects.link(self.armature)
            self.linked = True
        self.previous = view_layer.objects.active
        if bpy.context.object is not None and bpy.context.object.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        view_layer.objects.active = self.armature
        bpy.ops.object.mode_set(mode="EDIT")

    def __exit__(self, *exc) -> None:
        bpy.ops.object.mode_set(mode="OBJECT")
        bpy.context.view_layer.objects.active = self.previous
        if self.linked:
            bpy.context.scene.collection.objects.unlink(self.armature)


def _build_body(*, kit: CharacterKit, name: str,
                collection: bpy.types.Collection) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    faces = np.ascontiguousarray(kit.faces, dtype=np.int32)
    mesh.vertices.add(len(kit.vertices))
    mesh.vertices.foreach_set("co", np.ascontiguousarray(kit.vertices, dtype=np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    mesh.update(calc_edges=True)
    mesh.shade_smooth()
    body = bpy.data.objects.new(name, mesh)
    collection.objects.link(body)
    _add_vertex_groups(body=body, kit=kit)
    return body


def _add_vertex_groups(*, body: bpy.types.Object, kit: CharacterKit) -> None:
    groups = [body.vertex_groups.new(name=bone_name) for bone_name in kit.bone_names]
    used = kit.weight_values > 0.0
    vertex_ids = np.nonzero(used)[0].tolist()
    for vertex, bone, weight in zip(vertex_ids, kit.weight_indices[used].tolist(),
                                    kit.weight_values[used].tolist()):
        groups[bone].add((vertex,), weight, "REPLACE")


def add_jaw(*, armature: bpy.types.Object, body: bpy.types.Object, kit: CharacterKit) -> None:
    """Give a rig without a jaw one (``characters.jaw``): a bone under the head that carries the
    chin and the lower lip, so speech opens the mouth."""
    head = kit.bone_index("head")
    head_weight = np.where(kit.weight_indices == head, kit.weight_values, 0.0).sum(axis=1)
    jaw = place_jaw(vertices=kit.vertices, head_weight=head_weight,
                    eye_left=kit.bone_heads[kit.bone_index("eye.L")],
                    eye_right=kit.bone_heads[kit.bone_index("eye.R")])
    with _edit_mode(armature):
        bone = armature.data.edit_bones.new(JAW)
        bone.head, bone.tail = Vector(jaw.head.tolist()), Vector(jaw.tail.tolist())
        bone.align_roll(Vector((0.0, 0.0, 1.0)))
        bone.parent = armature.data.edit_bones["head"]
    moved = np.nonzero(jaw.weights > 1e-3)[0]
    group = body.vertex_groups.new(name=JAW)
    head_group = body.vertex_groups["head"]
    for vertex, share, total in zip(moved.tolist(), jaw.weights[moved].tolist(), head_weight[moved].tolist()):
        group.add((vertex,), share, "REPLACE")
        head_group.add((vertex,), max(total - share, 0.0), "REPLACE")


# --------------------------------------------------------------------------- materials

def _assign_materials(*, body: bpy.types.Object, kit: CharacterKit, name: str,
                      appearance: Appearance) -> None:
    colours = region_colours(appearance)
    for code, region in enumerate(REGIONS):
        body.data.materials.append(
            _principled(name=f"{name}_{region}", colour=colours[region], roughness=_ROUGHNESS[code]))
    body.data.polygons.foreach_set("material_index", face_regions(kit).astype(np.int32))


def region_colours(appearance: Appearance) -> dict[str, str]:
    """sRGB hex colour of each region of ``REGIONS`` for ``appearance``."""
    outfit = appearance.outfit
    return {"skin": appearance.skin_tone, "top": outfit.top, "bottom": outfit.bottom,
            "shoes": outfit.shoes, "hair": outfit.hair, "eyes": _EYE_COLOUR}


_FACE_PRIORITY = np.array([0, 1, 2, 3, 4, 5], dtype=np.int8)
_FACE_PRIORITY[[SKIN, TOP, BOTTOM, SHOES, HAIR, EYES]] = np.arange(6)


def face_regions(kit: CharacterKit) -> np.ndarray:
    """Region code per face: the highest-ranked region among its vertices.

    Ranks (eyes > hair > shoes > bottom > top > skin) make every face of a strip that straddles
    a boundary loop fall on the same side, so hems follow the mesh's edge loops cleanly.
    """
    ranks = _FACE_PRIORITY[kit.region[kit.faces]].max(axis=1)
    return np.argsort(_FACE_PRIORITY)[ranks].astype(np.uint8)


def _principled(*, name: str, colour: str, roughness: float) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    linear = (*srgb_to_linear(colour), 1.0)
    material.diffuse_color = linear
    material.roughness = roughness
    if material.node_tree is None:  # Blender < 5.0 creates materials without nodes
        material.use_nodes = True
    bsdf = next(node for node in material.node_tree.nodes if node.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = linear
    bsdf.inputs["Roughness"].default_value = roughness
    return material


def srgb_to_linear(colour: str) -> tuple[float, float, float]:
    """Linear RGB of an sRGB ``#rrggbb`` colour."""
    srgb = [int(colour[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]
    return tuple(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in srgb)


# --------------------------------------------------------------------------- seat geometry

def seat_depth(kit: CharacterKit) -> float:
    """How far the seat surface lies below the hip joints when sitting with level thighs.

    Sitting turns the back of the upper thighs into the underside of the body, so the depth is
    how far the upper thigh reaches behind the hip joints in the rest pose.
    """
    hips = [kit.bone_index(name) for name in HIPS]
    knees = [kit.bone_index(name.replace("upperleg01", "lowerleg01")) for name in HIPS]
    hip = kit.bone_heads[hips].mean(axis=0)
    thigh = float(np.mean(np.linalg.norm(kit.bone_heads[knees] - kit.bone_heads[hips], axis=1)))
    dominant = kit.weight_indices[np.arange(len(kit.vertices)), kit.weight_values.argmax(axis=1)]
    thigh_bones = [i for i, name in enumerate(kit.bone_names) if name.startswith("upperleg")]
    z = kit.vertices[:, 2]
    band = np.isin(dominant, thigh_bones) & (z < hip[2] - 0.15 * thigh) & (z > hip[2] - 0.4 * thigh)
    if not band.any():
        return 0.1 * thigh / 0.45
    return float(np.max(kit.vertices[band, 1] - hip[1]))


# --------------------------------------------------------------------------- postures

def set_posture(armature: bpy.types.Object, *, posture: str, frame: int,
                seat_height: float = 0.45) -> None:
    """Key the posture ``posture`` on the armature's pose bones at ``frame``.

    Args:
        armature: a character built by ``build_character``.
        posture: ``"stand"`` (upright, arms relaxed down along the body) or ``"sit"`` (thighs
            level, knees bent about 90 degrees, shins vertical, feet flat on the floor in front,
            torso upright, forearms resting forward over the thighs).
        frame: the frame to key.
        seat_height: for ``"sit"``, the seat's height above the floor, in metres; the hip
            joints land over the armature's origin, the seat centre.

    Raises:
        ValueError: an unknown posture.
    """
    if posture not in POSTURES:
        raise ValueError(f"unknown posture {posture!r}; expected one of {POSTURES}")
    pose = _PoseSolver(armature)
    if posture == "stand":
        _stand(pose)
    else:
        _sit(pose, seat_height=seat_height, depth=float(armature.get(SEAT_DEPTH_PROP, 0.1)))
    _key_pose(armature=armature, pose=pose, frame=frame)


def posture_bases(armature: bpy.types.Object, *, seat_heights=()) -> dict:
    """Pose bases of the postures, for ``scene.motion.bake_motion``.

    Returns:
        ``{"stand": (quats, locations), ("sit", h): (quats, locations)}`` for each seat height
        ``h`` (rounded to mm), each a dict bone name -> w-first quaternion / location.
    """
    out = {}
    depth = float(armature.get(SEAT_DEPTH_PROP, 0.1))
    for key in ["stand", *(("sit", round(float(h), 3)) for h in seat_heights)]:
        pose = _PoseSolver(armature)
        if key == "stand":
            _stand(pose)
        else:
            _sit(pose, seat_height=key[1], depth=depth)
        quats, locations = {}, {}
        for name in POSTURE_BONES:
            location, rotation, _ = pose.basis[name].decompose()
            quats[name] = list(rotation.normalized())
            locations[name] = list(location) if name == ROOT else [0.0, 0.0, 0.0]
        out[key] = (quats, locations)
    return out


def _posture_arms(pose: _PoseSolver, posture: str) -> None:
    """Aim the arms as the pose library's posture says (``[out, forward, up]``, mirrored)."""
    arms = load_library().pose(posture).arms
    for side_name, (side, sign) in (("left", ("L", 1.0)), ("right", ("R", -1.0))):
        aim = arms.get(side_name)
        for segment, bone in (("upper", "upperarm01"), ("lower", "lowerarm01")):
            direction = getattr(aim, segment) if aim else None
            if direction is not None:
                out, forward, up = direction
                pose.aim(f"{bone}.{side}", Vector((out * sign, -forward, up)))


def _stand(pose: _PoseSolver) -> None:
    _posture_arms(pose, "stand")


def _sit(pose: _PoseSolver, *, seat_height: float, depth: float) -> None:
    hip = (pose.head(HIPS[0]) + pose.head(HIPS[1])) / 2.0
    pose.move_root(Vector((-hip.x, -hip.y, seat_height + depth - hip.z)))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        _sit_leg(pose, side=side, sign=sign)
    _posture_arms(pose, "sit")


def _sit_leg(pose: _PoseSolver, *, side: str, sign: float) -> None:
    """Thigh forward, shin down to a foot flat on the floor (a planar two-bone solve)."""
    hip, knee, ankle = (pose.head(f"{bone}.{side}") for bone in ("upperleg01", "lowerleg01", "foot"))
    thigh, shin = (knee - hip).length, (ankle - knee).length
    ankle_height = pose.rest_head(f"foot.{side}").z  # above the floor: the rest feet are on it
    drop = hip.z - (ankle_height + shin)           # knee below the hip with a vertical shin
    pitch = math.asin(max(-0.35, min(0.45, drop / thigh)))
    splay = 0.08 * sign
    pose.aim(f"upperleg01.{side}", Vector((splay, -math.cos(pitch), -math.sin(pitch))))
    knee = pose.head(f"lowerleg01.{side}")
    reach = knee.z - ankle_height
    forward = math.sqrt(max(shin * shin - reach * reach, 0.0)) if reach < shin else 0.0
    pose.aim(f"lowerleg01.{side}", Vector((0.0, -forward, -min(reach, shin))))
    pose.restore(f"foot.{side}")


class _PoseSolver:
    """Forward kinematics over the rest pose, setting pose bases parent first.

    A bone's pose matrix in armature space is ``pose(parent) @ rest(parent)^-1 @ rest @ basis``.
    """

    def __init__(self, armature: bpy.types.Object) -> None:
        self.bones = armature.data.bones
        self.basis = {name: Matrix.Identity(4) for name in POSTURE_BONES}

    def matrix(self, name: str) -> Matrix:
        bone = self.bones[name]
        local = bone.matrix_local @ self.basis.get(name, Matrix.Identity(4))
        if bone.parent is None:
            return local
        return self.matrix(bone.parent.name) @ bone.parent.matrix_local.inverted() @ local

    def head(self, name: str) -> Vector:
        return self.matrix(name).translation.copy()

    def rest_head(self, name: str) -> Vector:
        return self.bones[name].head_local.copy()

    def _set(self, name: str, target: Matrix) -> None:
        """Give bone ``name`` the armature-space pose matrix ``target``."""
        self.basis[name] = Matrix.Identity(4)
        self.basis[name] = self.matrix(name).inverted() @ target

    def move_root(self, offset: Vector) -> None:
        self._set(ROOT, Matrix.Translation(offset) @ self.matrix(ROOT))

    def aim(self, name: str, direction: Vector) -> None:
        """Swing bone ``name`` about its head so its limb segment points along ``direction``."""
        base = name.rsplit(".", 1)
        end = f"{_SEGMENTS[base[0]]}.{base[1]}"
        self.basis[name] = Matrix.Identity(4)
        head = self.head(name)
        swing = (self.head(end) - head).rotation_difference(direction.normalized()).to_matrix().to_4x4()
        pivot = Matrix.Translation(head) @ swing @ Matrix.Translation(-head)
        self._set(name, pivot @ self.matrix(name))

    def restore(self, name: str) -> None:
        """Give bone ``name`` its rest orientation in armature space, at its posed head."""
        self.basis[name] = Matrix.Identity(4)
        target = self.bones[name].matrix_local.copy()
        target.translation = self.head(name)
        self._set(name, target)


def _key_pose(*, armature: bpy.types.Object, pose: _PoseSolver, frame: int) -> None:
    for name in POSTURE_BONES:
        bone = armature.pose.bones[name]
        location, rotation, _ = pose.basis[name].decompose()
        if rotation.w < 0.0:
            rotation.negate()
        bone.rotation_mode = "QUATERNION"
        bone.rotation_quaternion = rotation
        bone.location = location if name == ROOT else Vector()
        bone.keyframe_insert("rotation_quaternion", frame=frame, group=name)
        bone.keyframe_insert("location", frame=frame, group=name)


# --------------------------------------------------------------------------- joints

def character_joints(armature: bpy.types.Object) -> dict[str, tuple[float, float, float]]:
    """World positions of a character's joints in its current (evaluated) pose.

    Returns:
        ``head`` (centre of the head), ``head_top`` (crown), ``neck`` (base of the neck),
        ``pelvis`` (between the hip joints), ``foot_l`` and ``foot_r`` (ankles).
    """
    world = armature.matrix_world
    bones = armature.pose.bones

    def at(point: Vector) -> tuple[float, float, float]:
        return tuple(world @ point)

    head = bones["head"]
    return {
        "head": at((head.head + head.tail) / 2.0),
        "head_top": at(head.tail),
        "neck": at(bones["neck01"].head),
        "pelvis": at((bones[HIPS[0]].head + bones[HIPS[1]].head) / 2.0),
        "foot_l": at(bones["foot.L"].head),
        "foot_r": at(bones["foot.R"].head),
    }
