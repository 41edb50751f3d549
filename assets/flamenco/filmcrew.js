// SPDX-License-Identifier: GPL-3.0-or-later
// FilmCrew shot job type for Flamenco 3. Install: copy this file into the Manager's
// scripts/ folder (next to the flamenco-manager executable) and restart the Manager.
//
// One job renders one shot of a FilmCrew production that lives on shared storage:
// chunks of the shot's frames as `blender-render` tasks (every pass, straight into
// <production>/shots/<shot>/), a `finish` task for the shot-wide files, and optionally a
// refinement `exec` task of type `filmcrew-refine`, which only workers that list that task
// type (the GPU workers) pick up. `filmcrew farm submit` fills in the settings and writes
// <production>/shots/<shot>/farm_task.json, which the Blender tasks read.
//
// JOB_TYPE is written as strict JSON so FilmCrew's tests can read the very same settings.

const JOB_TYPE = {
    "label": "FilmCrew Shot",
    "description": "Render a FilmCrew shot's frames and passes in chunks, then refine it on a GPU worker",
    "settings": [
        {"key": "production", "type": "string", "subtype": "dir_path", "required": true,
         "description": "The production folder on shared storage, e.g. {jobs}/films/ep1"},
        {"key": "shot", "type": "string", "required": true, "description": "The shot id, e.g. S01_002"},
        {"key": "frames", "type": "string", "default": "",
         "description": "Shot frames to render, numbered from 1 (e.g. 1-48); empty: refine only"},
        {"key": "chunk_size", "type": "int32", "default": 8, "propargs": {"min": 1},
         "description": "Frames per render task"},
        {"key": "inputs_hash", "type": "string", "required": true, "visible": "web",
         "description": "What the shot's pictures depend on; farm_task.json must match it"},
        {"key": "refine_model", "type": "string", "default": "",
         "description": "Diffusers model folder or id for refinement on a GPU worker; empty: no refinement"},
        {"key": "refine_args", "type": "string", "default": "", "visible": "web",
         "description": "More `filmcrew refine` arguments, space separated, e.g. --steps 30 --offload model"},
        {"key": "refine_task_type", "type": "string", "default": "filmcrew-refine", "visible": "web",
         "description": "Task type of the refinement; list it in the GPU workers' task_types"},
        {"key": "filmcrew_exe", "type": "string", "default": "filmcrew", "visible": "web",
         "description": "The filmcrew command on the GPU workers"}
    ]
};

// Run inside the worker's Blender: find FilmCrew (installed as an extension, or importable
// as `filmcrew`) and render the frames named after `--`. A Python error exits with code 1.
const FILMCREW_EXPR = "import sys, importlib, addon_utils; " +
    "name = next((m.__name__ for m in addon_utils.modules() if m.__name__.rpartition('.')[2] == 'filmcrew'), 'filmcrew'); " +
    "importlib.import_module(name + '.farm.chunk').main(argv=sys.argv[sys.argv.index('--') + 1:])";

function compileJob(job) {
    const settings = job.settings;
    if (!settings.frames && !settings.refine_model) {
        throw "FilmCrew job has nothing to do: give frames to render or a refine_model";
    }
    const blendfile = path.join(settings.production, "scene.blend");
    const taskFile = path.join(settings.production, "shots", settings.shot, "farm_task.json");
    let last = null;
    if (settings.frames) {
        last = authorRenderTasks(job, settings, blendfile, taskFile);
    }
    if (settings.refine_model) {
        const refine = authorRefineTask(settings);
        if (last) {
            refine.addDependency(last);
        }
        job.addTask(refine);
    }
}

function blenderCommand(blendfile, settings, taskFile, extra) {
    return author.Command("blender-render", {
        exe: "{blender}",
        exeArgs: "{blenderArgs}",
        argsBefore: [],
        blendfile: blendfile,
        args: ["--python-exit-code", "1", "--python-expr", FILMCREW_EXPR, "--",
               "--task", taskFile, "--inputs-hash", settings.inputs_hash].concat(extra),
    });
}

// Chunks of frames, then `finish` (depth normalised over the whole shot, joints, done-marker).
function authorRenderTasks(job, settings, blendfile, taskFile) {
    const renders = [];
    for (const chunk of frameChunker(settings.frames, settings.chunk_size)) {
        const task = author.Task(`render-${settings.shot}-${chunk}`, "blender");
        task.addCommand(blenderCommand(blendfile, settings, taskFile, ["--frames", chunk]));
        job.addTask(task);
        renders.push(task);
    }
    const finish = author.Task(`finish-${settings.shot}`, "blender");
    finish.addCommand(blenderCommand(blendfile, settings, taskFile, ["--finish"]));
    for (const task of renders) {
        finish.addDependency(task);
    }
    job.addTask(finish);
    return finish;
}

function authorRefineTask(settings) {
    const extra = settings.refine_args ? settings.refine_args.split(/\s+/).filter((a) => a) : [];
    const task = author.Task(`refine-${settings.shot}`, settings.refine_task_type || "filmcrew-refine");
    task.addCommand(author.Command("exec", {
        exe: settings.filmcrew_exe || "filmcrew",
        args: ["refine", settings.production, "--shots", settings.shot, "--model", settings.refine_model].concat(extra),
    }));
    return task;
}
