"""The extension's preferences and the per-scene settings (``scene.filmcrew``)."""

from __future__ import annotations

import bpy

from .plan_edit import ANGLES, MOVEMENTS, SIZES
from .worker import ROLES

ENGINES = [("cycles", "Cycles", "Cycles on the CPU at low samples (the safe headless default)"),
           ("workbench", "Workbench", "Fast flat shading"), ("eevee", "EEVEE", "Needs a GPU")]

# The API key typed into the preferences lives only in this process: a property with a getter
# and setter has no storage, so neither userpref.blend nor any saved .blend can hold it.
_SESSION_SECRETS: dict[str, str] = {}


def _get_api_key(self) -> str:
    return _SESSION_SECRETS.get("api_key", "")


def _set_api_key(self, value: str) -> None:
    _SESSION_SECRETS["api_key"] = value


def _role_property(role: str):
    return bpy.props.EnumProperty(
        name=role.capitalize(), default="offline",
        items=[("offline", "Offline", "FilmCrew's own rules (no server)"),
               ("llm", "LLM", "The model on the server above")],
        description=f"Who plays the {role}")


def _role_model(role: str):
    return bpy.props.StringProperty(
        name=f"{role.capitalize()} Model", description=f"The model the {role} talks to (empty: Model above)")


class FilmCrewPreferences(bpy.types.AddonPreferences):
    """Worker environment, agent crew server, refinement model and render defaults."""

    bl_idname = __package__.rpartition(".")[0]

    worker_python: bpy.props.StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description="Python of the environment where FilmCrew, torch, anny and diffusers are installed "
                    "(empty: Blender's own Python)")
    llm_base_url: bpy.props.StringProperty(
        name="LLM Base URL", description="An OpenAI-compatible server, e.g. http://localhost:8000/v1")
    llm_model: bpy.props.StringProperty(name="Model", description="The model name on that server")
    api_key: bpy.props.StringProperty(
        name="API Key", subtype="PASSWORD", get=_get_api_key, set=_set_api_key,
        description="Kept for this Blender session only, never saved; for a lasting key set the "
                    "environment variable below")
    api_key_env: bpy.props.StringProperty(
        name="Key Variable", default="OPENAI_API_KEY",
        description="Environment variable holding the API key (used when the field above is empty)")
    director: _role_property("director")
    screenwriter: _role_property("screenwriter")
    actor: _role_property("actor")
    cinematographer: _role_property("cinematographer")
    director_model: _role_model("director")
    screenwriter_model: _role_model("screenwriter")
    actor_model: _role_model("actor")
    cinematographer_model: _role_model("cinematographer")
    refine_model: bpy.props.StringProperty(
        name="Refine Model", subtype="DIR_PATH",
        description="A diffusers model folder (e.g. Wan2.1-VACE-1.3B-diffusers) for Refine")
    refine_device: bpy.props.EnumProperty(
        name="Device", items=[("cuda", "CUDA", "An NVIDIA GPU"), ("cpu", "CPU", "Tiny test models only")])
    refine_steps: bpy.props.IntProperty(name="Steps", default=30, min=1, max=200)
    engine: bpy.props.EnumProperty(name="Engine", items=ENGINES, default="cycles")
    samples: bpy.props.IntProperty(name="Samples", default=4, min=1, max=4096)
    resolution: bpy.props.IntVectorProperty(name="Resolution", size=2, default=(480, 270), min=16,
                                            max=8192, description="Width and height (even numbers)")
    fps: bpy.props.IntProperty(name="Frame Rate", default=24, min=1, max=120)
    passes: bpy.props.StringProperty(
        name="Passes", default="all",
        description="Comma-separated passes: rgb,depth,normal,segment,pose,edges,flow (or all)")

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "worker_python")
        box = layout.box()
        box.label(text="Agent crew", icon="COMMUNITY")
        for name in ("llm_base_url", "llm_model", "api_key", "api_key_env"):
            box.prop(self, name)
        for role in ROLES:
            row = box.row(align=True)
            row.prop(self, role)
            row.prop(self, f"{role}_model", text="")
        box = layout.box()
        box.label(text="Refinement", icon="SHADERFX")
        for name in ("refine_model", "refine_device", "refine_steps"):
            box.prop(self, name)
        box = layout.box()
        box.label(text="Render defaults", icon="RENDER_STILL")
        for name in ("engine", "samples", "resolution", "fps", "passes"):
            box.prop(self, name)


def _shot_changed(name: str):
    def update(self, context):
        from .sync import shot_edited

        shot_edited(context=context, item=self, field=name)
    return update


def _cast_changed(self, context):
    from .sync import appearance_edited

    appearance_edited(context=context, item=self)


def _items(values):
    return [(v, v, "") for v in values]


class FilmCrewShot(bpy.types.PropertyGroup):
    """One row of the shot list; editing a spec pins the shot in plan.json."""

    scene_id: bpy.props.StringProperty(name="Scene")
    framing: bpy.props.StringProperty(name="Framing")
    size: bpy.props.EnumProperty(name="Size", items=_items(SIZES), update=_shot_changed("size"))
    angle: bpy.props.EnumProperty(name="Angle", items=_items(ANGLES), update=_shot_changed("angle"))
    movement: bpy.props.EnumProperty(name="Movement", items=_items(MOVEMENTS),
                                     update=_shot_changed("movement"))
    subjects: bpy.props.StringProperty(name="Subjects", description="Character ids, comma-separated",
                                       update=_shot_changed("subjects"))
    pinned: bpy.props.BoolProperty(name="Pinned")


def _colour(name: str):
    return bpy.props.FloatVectorProperty(name=name, subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0,
                                         update=_cast_changed)


def _unit(name: str, description: str = ""):
    return bpy.props.FloatProperty(name=name, min=0.0, max=1.0, subtype="FACTOR", description=description,
                                   update=_cast_changed)


class FilmCrewCharacter(bpy.types.PropertyGroup):
    """One member of the cast; editing the appearance writes it into plan.json."""

    display_name: bpy.props.StringProperty(name="Name")
    gender: _unit("Gender", "0 female, 1 male")
    age_years: bpy.props.FloatProperty(name="Age", min=1.0, max=95.0, update=_cast_changed)
    height: _unit("Height")
    weight: _unit("Weight")
    muscle: _unit("Muscle")
    skin_tone: _colour("Skin")
    top: _colour("Top")
    bottom: _colour("Bottom")
    shoes: _colour("Shoes")
    hair: _colour("Hair")


class FilmCrewLine(bpy.types.PropertyGroup):
    """A line of text for the panel (a report figure or a check finding)."""

    value: bpy.props.StringProperty()


class FilmCrewSettings(bpy.types.PropertyGroup):
    source: bpy.props.EnumProperty(
        name="Input", items=[("FILE", "Fountain File", "A screenplay file"),
                             ("TEXT", "Text Block", "A screenplay in one of this file's text blocks"),
                             ("IDEA", "Idea", "A one-line idea; the agent crew writes the screenplay")])
    screenplay: bpy.props.StringProperty(name="Screenplay", subtype="FILE_PATH",
                                         description="A Fountain screenplay")
    text: bpy.props.PointerProperty(name="Text", type=bpy.types.Text,
                                    description="A text block holding a Fountain screenplay")
    idea: bpy.props.StringProperty(name="Idea", description="e.g. Two rival chefs share one kitchen")
    output: bpy.props.StringProperty(name="Production", subtype="DIR_PATH",
                                     description="The production folder")
    status: bpy.props.StringProperty(name="Status", default="")
    progress: bpy.props.FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    running: bpy.props.BoolProperty(default=False)
    staged_scene: bpy.props.StringProperty(name="Staged Scene",
                                           description="The scene loaded from the production's scene.blend")
    shots: bpy.props.CollectionProperty(type=FilmCrewShot)
    shot_index: bpy.props.IntProperty()
    cast: bpy.props.CollectionProperty(type=FilmCrewCharacter)
    cast_index: bpy.props.IntProperty()
    figures: bpy.props.CollectionProperty(type=FilmCrewLine)
    findings: bpy.props.CollectionProperty(type=FilmCrewLine)


CLASSES = (FilmCrewPreferences, FilmCrewShot, FilmCrewCharacter, FilmCrewLine, FilmCrewSettings)
