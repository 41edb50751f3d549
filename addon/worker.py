"""Running a CLI stage in a child process and reading its progress (no bpy here)."""

from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass, field

from ..child import module_command

_PERCENT = re.compile(r"(\w+):\s+(\d+)%")


def stage_command(*, python: str, stage: str, screenplay: str, output: str,
                  engine: str) -> tuple[list[str], dict[str, str]]:
    """The ``filmcrew`` command line (and environment) for a stage, as the CLI would be called."""
    cmd, env = module_command("cli", python=python or None)
    cmd.append(stage)
    if stage in ("make", "plan"):
        cmd += [screenplay, "--out", output]
    else:
        cmd += [output]
    if stage in ("make", "render"):
        cmd += ["--engine", engine]
    return cmd, env


@dataclass
class Worker:
    """A stage running in a child process; ``poll`` never blocks."""

    command: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        env=self.env, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process and self.process.stderr
        buffer = ""
        while True:
            chunk = self.process.stderr.read(1)
            if not chunk:
                break
            if chunk in "\r\n":
                if buffer.strip():
                    self.lines.append(buffer.strip())
                buffer = ""
            else:
                buffer += chunk

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

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
        return self.lines[-1] if self.lines else "the worker failed without a message"

    def cancel(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._reader:
            self._reader.join(timeout=5)

    def finish(self) -> None:
        if self._reader:
            self._reader.join(timeout=5)
