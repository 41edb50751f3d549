"""Operators: run a stage in a worker with a modal timer; open the staged scene."""

from __future__ import annotations

from pathlib import Path

import bpy

from .worker import Worker, stage_command


def _prefs(context):
    addon = context.preferences.addons.get(__package__.rpartition(".")[0])
    return addon.preferences if addon else None


class FILMCREW_OT_run_stage(bpy.types.Operator):
    """Run a FilmCrew stage in a worker process (Esc cancels; finished work is kept)"""

    bl_idname = "filmcrew.run_stage"
    bl_label = "Run FilmCrew Stage"

    stage: bpy.props.EnumProperty(items=[("make", "Make", ""), ("plan", "Plan", ""),
                                         ("stage", "Stage", ""), ("render", "Render", "")])

    _worker: Worker | None = None
    _timer = None

    def _command(self, context) -> tuple[list[str], dict[str, str]] | None:
        settings = context.scene.filmcrew
        prefs = _prefs(context)
        output = bpy.path.abspath(settings.output)
        screenplay = bpy.path.abspath(settings.screenplay)
        if not output:
            self.report({"ERROR"}, "Choose a production folder first")
            return None
        if self.stage in ("make", "plan") and not Path(screenplay).is_file():
            self.report({"ERROR"}, f"Screenplay not found: {screenplay or '(none chosen)'}")
            return None
        return stage_command(python=prefs.worker_python if prefs else "", stage=self.stage,
                             screenplay=screenplay, output=output,
                             engine=prefs.engine if prefs else "cycles")

    def execute(self, context):
        command = self._command(context)
        if command is None:
            return {"CANCELLED"}
        if not bpy.app.background:
            return self.invoke(context, None)
        worker = Worker(*command)  # background Blender: nobody to keep responsive
        worker.start()
        worker.process.wait()
        worker.finish()
        return self._done(context, worker)

    def invoke(self, context, event):
        command = self._command(context)
        if command is None:
            return {"CANCELLED"}
        self._worker = Worker(*command)
        self._worker.start()
        context.scene.filmcrew.running = True
        self._timer = context.window_manager.event_timer_add(0.25, window=context.window)
        context.window_manager.modal_handler_add(self)
        context.window_manager.progress_begin(0, 100)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        settings = context.scene.filmcrew
        if event.type == "ESC":
            self._worker.cancel()
            self._cleanup(context)
            settings.status = "Cancelled; run again to resume"
            self.report({"WARNING"}, "FilmCrew: cancelled; finished frames are kept")
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
        return self._done(context, self._worker)

    def _cleanup(self, context) -> None:
        context.window_manager.event_timer_remove(self._timer)
        context.window_manager.progress_end()
        context.scene.filmcrew.running = False

    def _done(self, context, worker: Worker):
        settings = context.scene.filmcrew
        if worker.poll() != 0:
            settings.status = f"Failed: {worker.error()}"
            self.report({"ERROR"}, f"FilmCrew {self.stage}: {worker.error()}")
            return {"CANCELLED"}
        settings.status = f"{self.stage} done"
        settings.progress = 1.0
        self.report({"INFO"}, f"FilmCrew {self.stage} done")
        return {"FINISHED"}


class FILMCREW_OT_open_scene(bpy.types.Operator):
    """Open the production's scene.blend"""

    bl_idname = "filmcrew.open_scene"
    bl_label = "Open Staged Scene"

    def execute(self, context):
        blend = Path(bpy.path.abspath(context.scene.filmcrew.output)) / "scene.blend"
        if not blend.is_file():
            self.report({"ERROR"}, f"No scene.blend in the production folder yet: {blend}")
            return {"CANCELLED"}
        bpy.ops.wm.open_mainfile(filepath=str(blend))
        return {"FINISHED"}


CLASSES = (FILMCREW_OT_run_stage, FILMCREW_OT_open_scene)
