"""The refine worker: its own process, progress events on a pipe, cancellation.

The parent (the CLI, the Blender panel, a notebook) starts ``python -m filmcrew.refine`` with
the settings as JSON, reads one JSON event per line from its stdout and never imports torch.
The child runs ``run_refine``; it stops at the next denoising step when the parent writes
``cancel`` to its stdin, closes its stdin (the parent died) or sends SIGTERM. Finished shots are
on disk as soon as they finish, so whatever stops the child, a rerun resumes.

Events: ``plan`` (shots, windows, total steps), ``shot`` (start / done / skipped), ``step``,
``note`` (a fallback taken, one line), ``film``, then ``done`` (figures) or ``error``
(``message``, one line; ``kind``: ``error``, ``cancelled`` or ``crash``).
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator

from ..child import module_command
from ..errors import FilmCrewError
from .run import Cancelled, RefineSettings, run_refine


def child_command(python: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run this package's ``__main__`` in a child."""
    return module_command("refine", python=python)


class RefineWorker:
    """A refine run in a child process.

    ``start()`` launches it; ``events()`` yields its events until it ends (blocking);
    ``poll()`` returns the events so far without blocking (for ``bpy.app.timers``);
    ``cancel()`` asks it to stop at the next step; ``wait()`` returns its exit status.
    """

    def __init__(self, settings: RefineSettings, *, python: str | None = None) -> None:
        self.settings = settings
        self.python = python
        self.process: subprocess.Popen | None = None
        self._events: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._stderr = None

    def start(self) -> RefineWorker:
        command, env = child_command(self.python)
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed in wait()
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self._stderr, text=True, env=env, bufsize=1)
        except OSError as exc:
            raise FilmCrewError(f"cannot start the refine worker: {exc}") from exc
        assert self.process.stdin is not None
        self.process.stdin.write(self.settings.to_json() + "\n")
        self.process.stdin.flush()
        self._reader = threading.Thread(target=self._read, name="filmcrew-refine-reader", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        ended = False
        for line in self.process.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            ended = ended or event.get("event") in ("done", "error")
            self._events.put(event)
        code = self.process.wait()
        if not ended:
            self._events.put({"event": "error", "kind": "crash",
                              "message": f"refine worker died (exit {code}): {self._last_stderr_line()}"})
        self._events.put(None)

    def _last_stderr_line(self) -> str:
        if self._stderr is None:
            return "no error message"
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else "no error message"

    def events(self) -> Iterator[dict]:
        """Every event, in order, until the worker ends."""
        while True:
            event = self._events.get()
            if event is None:
                return
            yield event

    def poll(self) -> list[dict]:
        """The events that arrived since the last call (never blocks)."""
        found = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return found
            if event is None:
                self._events.put(None)  # keep the end visible to later calls
                return found
            found.append(event)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cancel(self) -> None:
        """Ask the worker to stop at its next denoising step (finished shots stay)."""
        if self.running():
            try:
                assert self.process is not None and self.process.stdin is not None
                self.process.stdin.write("cancel\n")
                self.process.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return code


# --------------------------------------------------------------------------- the child

def child_main() -> int:
    """Entry of ``python -m filmcrew.refine``: settings JSON on the first stdin line."""
    cancel = threading.Event()
    out = sys.stdout
    lock = threading.Lock()

    def emit(event: dict) -> None:
        with lock:
            out.write(json.dumps(event) + "\n")
            out.flush()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                break
        cancel.set()  # "cancel", or stdin closed: the parent is gone

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: cancel.set())
    try:
        settings = RefineSettings.from_json(sys.stdin.readline())
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        emit({"event": "error", "kind": "error", "message": f"bad settings for the refine worker: {exc}"})
        return 2
    threading.Thread(target=watch_stdin, name="filmcrew-refine-cancel", daemon=True).start()
    sys.stdout = sys.stderr  # libraries that print must not mix with the event stream
    try:
        figures = run_refine(settings, emit=emit, cancelled=cancel.is_set)
    except Cancelled:
        emit({"event": "error", "kind": "cancelled",
              "message": "refine cancelled; finished shots are kept, run the same command to resume"})
        return 130
    except FilmCrewError as exc:
        emit({"event": "error", "kind": "error", "message": str(exc)})
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the traceback on stderr
        traceback.print_exc()
        emit({"event": "error", "kind": "crash", "message": f"{type(exc).__name__}: {exc}".splitlines()[0]})
        return 1
    emit({"event": "done", "figures": figures})
    return 0
