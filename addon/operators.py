"""Operators: run a stage in a worker with a modal timer; load the staged scene; reload lists."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import bpy

from ..errors import FilmCrewError
from . import sync
from .worker import ROLES, STAGES, CrewOptions, StageOptions, Worker, stage_command

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def addon_prefs(context):
    """The extension's preferences, or None when it is registered without being enabled."""
    addon = context.preferences.addons.get(__package__.rpartition(".")[0])
    return addon.preferences if addon else None


def _crew(prefs) -> CrewOptions:
    if prefs is None:
        return CrewOptions()
    key = prefs.api_key  # typed in this session; else the variable the preferences name
    if not key and prefs.api_key_env.strip():
        key = os.environ.get(prefs.api_key_env.strip(), "")
    return CrewOptions(base_url=prefs.llm_base_url, model=prefs.llm_model, api_key=key,
                       roles=tuple((role, getattr(prefs, role)) for role in ROLES),
                       models=tuple((role, getattr(prefs, f"{role}_model").strip()) for role in ROLES
                                    if getattr(prefs, f"{role}_model").strip()))


def _options(prefs, output: str, screenplay: str, idea: str) -> StageOptions:
    if prefs is None:
        return StageOptions(output=output, screenplay=screenplay, idea=idea)
    return StageOptions(output=output, screenplay=screenplay, idea=idea, engine=prefs.engine,
                        samples=prefs.samples, resolution=tuple(prefs.resolution), fps=prefs.fps,
                        passes=prefs.passes,
                        refine_model=bpy.path.abspath(prefs.refine_model), refine_device=prefs.refine_device,
                        refine_steps=prefs.refine_steps)


class FILMCREW_OT_run_stage(bpy.types.Operator):
    """Run a FilmCrew stage in a worker process (Esc cancels; finished work is kept)"""

    bl_idname = "filmcrew.run_stage"
    bl_label = "Run FilmCrew Stage"

    stage: bpy.props.EnumProperty(items=[(s, s.capitalize(), "") for s in STAGES])

    _worker: Worker | None = None
    _timer = None

    @classmethod
    def poll(cls, context):
        return context.scene is not None and not context.scene.filmcrew.running

    # --- building the command -----------------------------------------------------------
    def _command(self, context) -> tuple[list[str], dict[str, str]] | None:
        settings = context.scene.filmcrew
        prefs = addon_prefs(context)
        output = bpy.path.abspath(settings.output)
        if not output:
            self.report({"ERROR"}, "Choose a production folder first")
            return None
        try:
            screenplay, idea = self._input(settings, Path(output))
            crew = _crew(prefs)
            self._check_online(crew, idea)
            options = _options(prefs, output, screenplay, idea)
            if self.stage == "refine" and not options.refine_model:
                raise FilmCrewError("choose a Refine Model folder in the FilmCrew preferences first")
            return stage_command(python=bpy.path.abspath(prefs.worker_python) if prefs else "",
                                 stage=self.stage, options=options, crew=crew)
        except FilmCrewError as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def _input(self, settings, output: Path) -> tuple[str, str]:
        """The screenplay path and idea for make and plan (a text block is written out first)."""
        if self.stage not in ("make", "plan"):
            return "", ""
        if settings.source == "IDEA":
            if not settings.idea.strip():
                raise FilmCrewError("Write an idea first (Input: Idea)")
            return "", settings.idea
        if settings.source == "TEXT":
            return str(_write_text_block(settings.text, output)), ""
        screenplay = bpy.path.abspath(settings.screenplay)
        if not Path(screenplay).is_file():
            raise FilmCrewError(f"Screenplay not found: {screenplay or '(none chosen)'}")
        return screenplay, ""

    def _check_online(self, crew: CrewOptions, idea: str) -> None:
        """Honour Blender's "Allow Online Access" for servers beyond this machine."""
        uses_llm = idea or any(backend == "llm" for _, backend in crew.roles)
        if self.stage not in ("make", "plan") or not uses_llm or bpy.app.online_access:
            return
        host = urlsplit(crew.base_url).hostname if crew.base_url else "api.openai.com"
        if host not in _LOOPBACK:
            raise FilmCrewError(f"the agent crew would contact {host}, but online access is off "
                                "(Preferences > System > Network)")

    # --- running ------------------------------------------------------------------------
    def execute(self, context):
        if not bpy.app.background:
            return self.invoke(context, None)
        command = self._command(context)
        if command is None:
            return {"CANCELLED"}
        worker = Worker(*command)  # background Blender: nobody to keep responsive
        worker.start()
        worker.wait()
        return self._done(context.scene.filmcrew, worker)

    def invoke(self, context, event):
        command = self._command(context)
        if command is None:
            return {"CANCELLED"}
        self._worker = Worker(*command)
        self._worker.start()
        context.scene.filmcrew.running = True
        context.scene.filmcrew.status = f"{self.stage}: starting"
        self._timer = context.window_manager.event_timer_add(0.25, window=context.window)
        context.window_manager.modal_handler_add(self)
        context.window_manager.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        settings = context.scene.filmcrew
        if event.type == "ESC":
            self._worker.cancel()
            self._cleanup(context)
            settings.status = f"{self.stage} cancelled; run it again to resume"
            self.report({"WARNING"}, "FilmCrew: cancelled; finished work is kept")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        stage, fraction = self._worker.progress()
        settings.progress = fraction
        settings.status = f"{stage}: {int(fraction * 100)}%"
        context.window_manager.progress_update(int(fraction * 100))
        for area in context.screen.areas if context.screen else []:
            area.tag_redraw()
        if self._worker.poll() is None:
            return {"PASS_THROUGH"}
        self._worker.finish()
        self._cleanup(context)
        return self._done(settings, self._worker)

    def _cleanup(self, context) -> None:
        context.window_manager.event_timer_remove(self._timer)
        context.window_manager.progress_end()
        context.scene.filmcrew.running = False

    def _done(self, settings, worker: Worker):
        if worker.poll() != 0:
            settings.status = f"Failed: {worker.error()}"
            self.report({"ERROR"}, f"FilmCrew {self.stage}: {worker.error()}")
            return {"CANCELLED"}
        settings.status = f"{self.stage} done"
        settings.progress = 1.0
        findings = sync.check_findings(worker.output) if self.stage == "check" else None
        if bpy.app.background:
            _after_stage(settings=settings, stage=self.stage, findings=findings)
        else:  # the scene swap waits for the operator to return, then runs on the main thread
            scene_name = settings.id_data.name
            bpy.app.timers.register(lambda: _after_stage_timer(scene_name, self.stage, findings),
                                    first_interval=0.0)
        self.report({"INFO"}, f"FilmCrew {self.stage} done")
        return {"FINISHED"}


def _write_text_block(text, output: Path) -> Path:
    """Write a text block to the production's screenplay.fountain (the plan stage reads it there)."""
    if text is None:
        raise FilmCrewError("Choose a text block first (Input: Text Block)")
    body = text.as_string()
    if not body.strip():
        raise FilmCrewError(f"text block '{text.name}' is empty")
    output.mkdir(parents=True, exist_ok=True)
    path = output / "screenplay.fountain"
    from ..fsutil import atomic_write_text

    atomic_write_text(path, body if body.endswith("\n") else body + "\n")
    return path


def _after_stage(*, settings, stage: str, findings: list[str] | None) -> None:
    """Bring a finished stage's results into the session: lists, report, the staged scene."""
    if stage in ("plan", "stage", "make"):
        sync.load_plan_lists(settings=settings)
    sync.load_report(settings=settings, findings=findings)
    if stage in ("stage", "make"):
        sync.load_staged_scene(settings=settings)


def _after_stage_timer(scene_name: str, stage: str, findings):
    scene = bpy.data.scenes.get(scene_name)
    if scene is not None:
        try:
            _after_stage(settings=scene.filmcrew, stage=stage, findings=findings)
        except FilmCrewError as exc:
            scene.filmcrew.status = f"Failed: {exc}"
    return None  # run once


class FILMCREW_OT_load_scene(bpy.types.Operator):
    """Append the production's scene.blend into this file and show it"""

    bl_idname = "filmcrew.load_scene"
    bl_label = "Load Staged Scene"

    def execute(self, context):
        try:
            sync.load_staged_scene(settings=context.scene.filmcrew)
        except FilmCrewError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class FILMCREW_OT_reload(bpy.types.Operator):
    """Read plan.json and report.json again (after editing them elsewhere)"""

    bl_idname = "filmcrew.reload"
    bl_label = "Reload Production"

    def execute(self, context):
        settings = context.scene.filmcrew
        try:
            sync.load_plan_lists(settings=settings)
            sync.load_report(settings=settings)
        except FilmCrewError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


CLASSES = (FILMCREW_OT_run_stage, FILMCREW_OT_load_scene, FILMCREW_OT_reload)
