"""Running a CLI stage in a child process and reading its progress (no bpy here).

The panel builds the same ``filmcrew`` command line a user would type and runs it in the
worker environment (the Python named in the preferences), so nothing is implemented twice
and Blender's own Python never loads torch, anny or diffusers. Secrets (the API key) travel
only in the child's environment, never on its command line or on disk.
"""

from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass, field

from ..child import module_command

STAGES = ("make", "plan", "stage", "render", "check", "refine")
ROLES = ("director", "screenwriter", "actor", "cinematographer")  # agents/config.py ROLES
_PERCENT = re.compile(r"(\w+):\s+(\d+)%")


@dataclass(frozen=True)
class StageOptions:
    """What a panel run needs beyond the stage's name (preferences and scene settings)."""

    output: str
    screenplay: str = ""
    idea: str = ""
    engine: str = "cycles"
    samples: int = 4
    resolution: tuple[int, int] = (480, 270)
    fps: int = 24
    passes: str = "all"
    refine_model: str = ""
    refine_device: str = "cuda"
    refine_steps: int = 30


@dataclass(frozen=True)
class CrewOptions:
    """The agent crew's settings from the preferences (empty strings: not set there)."""

    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    roles: tuple[tuple[str, str], ...] = ()
    models: tuple[tuple[str, str], ...] = ()  # (role, model) where a role has its own

    def environment(self) -> dict[str, str]:
        """The variables agents/config.py reads; only the ones the preferences set."""
        env = {}
        if self.base_url.strip():
            env["FILMCREW_LLM_BASE_URL"] = self.base_url.strip()
        if self.model.strip():
            env["FILMCREW_LLM_MODEL"] = self.model.strip()
        if self.api_key:
            env["FILMCREW_LLM_API_KEY"] = self.api_key
        if self.roles:
            env["FILMCREW_ROLES"] = ",".join(f"{role}={backend}" for role, backend in self.roles)
        if self.models:
            env["FILMCREW_LLM_MODELS"] = ",".join(f"{role}={model}" for role, model in self.models)
        return env


def stage_command(*, python: str, stage: str, options: StageOptions,
                  crew: CrewOptions | None = None) -> tuple[list[str], dict[str, str]]:
    """The ``filmcrew`` command line and environment for a stage, as the CLI would be called.

    Args:
        python: the worker environment's interpreter (empty: this one).
        stage: one of ``STAGES``.
        options: folder, input and render settings.
        crew: LLM settings passed through the environment (make and plan only).

    Raises:
        ValueError: an unknown stage, or make/plan without a screenplay or an idea.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage '{stage}' (known: {', '.join(STAGES)})")
    cmd, env = module_command("cli", python=python or None)
    cmd.append(stage)
    if stage in ("make", "plan"):
        cmd += _input_args(options)
        cmd += ["--out", options.output, "--resolution", "{}x{}".format(*options.resolution),
                "--fps", str(options.fps)]
        env.update((crew or CrewOptions()).environment())
    else:
        cmd.append(options.output)
    if stage in ("make", "render"):
        cmd += ["--engine", options.engine, "--samples", str(options.samples), "--passes", options.passes]
    if stage == "refine":
        cmd += ["--model", options.refine_model, "--device", options.refine_device,
                "--steps", str(options.refine_steps)]
    return cmd, env


def _input_args(options: StageOptions) -> list[str]:
    if options.idea.strip():
        return ["--idea", options.idea.strip()]
    if not options.screenplay:
        raise ValueError("make and plan need a screenplay or an idea")
    return [options.screenplay]


@dataclass
class Worker:
    """A stage running in a child process; ``poll`` never blocks.

    stderr carries the progress bars and errors; stdout (``check``'s findings, ``done:``
    lines) is kept in ``output``.
    """

    command: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    _readers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, env=self.env, text=True, bufsize=1)
        for stream, sink in ((self.process.stderr, self.lines), (self.process.stdout, self.output)):
            reader = threading.Thread(target=_read_lines, args=(stream, sink), daemon=True)
            reader.start()
            self._readers.append(reader)

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def wait(self) -> int:
        """Block until the child ends (background Blender: nobody to keep responsive)."""
        assert self.process is not None
        code = self.process.wait()
        self.finish()
        return code

    def progress(self) -> tuple[str, float]:
        """The stage and fraction reported by the last progress line."""
        for line in reversed(self.lines):
            match = _PERCENT.search(line)
            if match:
                return match.group(1), int(match.group(2)) / 100.0
        return "starting", 0.0

    def error(self) -> str:
        for line in reversed(self.lines):
            if line.startswith("filmcrew: error:"):
                return line.removeprefix("filmcrew: error:").strip()
        for line in reversed(self.lines):  # a traceback's last line names the exception
            if not _PERCENT.search(line):
                return line
        return "the worker failed without a message"

    def cancel(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.finish()

    def finish(self) -> None:
        """Join the reader threads, so no thread outlives the operator."""
        for reader in self._readers:
            reader.join(timeout=5)


def _read_lines(stream, sink: list[str]) -> None:
    """Collect lines, splitting on carriage returns too (tqdm redraws a bar with ``\\r``)."""
    buffer = ""
    while True:
        chunk = stream.read(1)
        if not chunk:
            break
        if chunk in "\r\n":
            if buffer.strip():
                sink.append(buffer.strip())
            buffer = ""
        else:
            buffer += chunk
    if buffer.strip():
        sink.append(buffer.strip())
