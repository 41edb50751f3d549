"""A loopback Flamenco Manager for tests: the part of the v3 API FilmCrew uses, on 127.0.0.1.

It serves the job type read from the shipped ``assets/flamenco/filmcrew.js`` (its JOB_TYPE is
strict JSON), validates submitted jobs by the OpenAPI document's rules (SubmittedJob's required
fields and types, the job type's required settings and their types, 412 with an Error object
when ``type_etag`` differs), compiles them into tasks the way the job type's ``compileJob``
does, and lets a test move tasks through Flamenco's statuses to simulate progress and failure.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .flamenco import JOB_STATUSES, TASK_STATUSES

JS_PATH = Path(__file__).resolve().parent.parent / "assets" / "flamenco" / "filmcrew.js"
SETTING_TYPES = {"string": (str,), "int32": (int,), "float": (int, float), "bool": (bool,)}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def load_job_type(path: Path = JS_PATH) -> dict:
    """The AvailableJobType of a job-type script: name from the file, JOB_TYPE, an etag over it."""
    text = path.read_text()
    match = re.search(r"const JOB_TYPE = (\{.*?\n\});", text, re.S)
    if match is None:
        raise ValueError(f"{path}: no `const JOB_TYPE = {{...}};` block")
    definition = json.loads(match.group(1))
    etag = hashlib.sha1(json.dumps(definition, sort_keys=True).encode()).hexdigest()
    return {"name": path.stem.replace("_", "-"), "label": definition["label"],
            "description": definition.get("description", ""), "settings": definition["settings"], "etag": etag}


def frame_chunker(frames: str, size: int) -> list[str]:
    """Flamenco's frameChunker: "1-10", 4 -> ["1-4", "5-8", "9-10"] (merged ranges per chunk)."""
    numbers: set[int] = set()
    for part in frames.replace("..", "-").split(","):
        low, _, high = part.strip().partition("-")
        numbers.update(range(int(low), int(high or low) + 1))
    ordered = sorted(numbers)
    chunks = []
    for i in range(0, len(ordered), size):
        runs, group = [], ordered[i:i + size]
        start = prev = group[0]
        for n in group[1:] + [None]:
            if n is not None and n == prev + 1:
                prev = n
                continue
            runs.append(f"{start}-{prev}" if prev != start else f"{start}")
            if n is not None:
                start = prev = n
        chunks.append(",".join(runs))
    return chunks


def compile_tasks(settings: dict) -> list[dict]:
    """The tasks filmcrew.js's compileJob makes: [{name, type, depends}] (names as the script's)."""
    shot, tasks = settings["shot"], []
    if settings.get("frames"):
        renders = [f"render-{shot}-{chunk}" for chunk in frame_chunker(settings["frames"], settings["chunk_size"])]
        tasks += [{"name": name, "type": "blender", "depends": []} for name in renders]
        tasks.append({"name": f"finish-{shot}", "type": "blender", "depends": renders})
    if settings.get("refine_model"):
        tasks.append({"name": f"refine-{shot}", "type": settings.get("refine_task_type") or "filmcrew-refine",
                      "depends": [tasks[-1]["name"]] if tasks else []})
    if not tasks:
        raise ValueError("FilmCrew job has nothing to do: give frames to render or a refine_model")
    return tasks


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class _Rejected(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def validate_submitted_job(body, job_types: dict[str, dict]) -> dict:
    """SubmittedJob checks as the Manager makes them; returns the job type; raises _Rejected."""
    if not isinstance(body, dict):
        raise _Rejected(400, "invalid format: the request body must be a JSON object")
    for key in ("name", "type", "priority", "submitter_platform"):
        if key not in body:
            raise _Rejected(400, f"invalid format: property \"{key}\" is missing")
    for key in ("name", "type", "submitter_platform", "type_etag", "worker_tag"):
        if key in body and not isinstance(body[key], str):
            raise _Rejected(400, f"invalid format: property \"{key}\" must be a string")
    if isinstance(body["priority"], bool) or not isinstance(body["priority"], int):
        raise _Rejected(400, "invalid format: property \"priority\" must be an integer")
    if "worker_tag" in body and not UUID_RE.match(body["worker_tag"]):
        raise _Rejected(400, "invalid format: property \"worker_tag\" must be a UUID")
    for key in ("settings", "metadata"):
        if key in body and not isinstance(body[key], dict):
            raise _Rejected(400, f"invalid format: property \"{key}\" must be an object")
    if any(not isinstance(v, str) for v in body.get("metadata", {}).values()):
        raise _Rejected(400, "invalid format: metadata values must be strings")
    job_type = job_types.get(body["type"])
    if job_type is None:
        raise _Rejected(400, f"job type \"{body['type']}\" does not exist")
    if "type_etag" in body and body["type_etag"] != job_type["etag"]:
        raise _Rejected(412, "rejecting job because its settings are outdated, refresh the job type")
    settings = body.get("settings", {})
    for spec in job_type["settings"]:
        key = spec["key"]
        if key not in settings:
            if spec.get("required"):
                raise _Rejected(400, f"job setting \"{key}\" is required")
            continue
        value = settings[key]
        allowed = SETTING_TYPES[spec["type"]]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            raise _Rejected(400, f"job setting \"{key}\" must be of type {spec['type']}")
        if spec.get("choices") and value not in spec["choices"]:
            raise _Rejected(400, f"job setting \"{key}\" must be one of {spec['choices']}")
    return job_type


class LoopbackManager:
    """``with LoopbackManager() as manager: manager.url`` is a Flamenco Manager on 127.0.0.1."""

    def __init__(self, *, job_type_path: Path = JS_PATH, tags: dict[str, str] | None = None) -> None:
        job_type = load_job_type(job_type_path)
        self.job_types = {job_type["name"]: job_type}
        self.tags = [{"id": tid, "name": name} for name, tid in (tags or {}).items()]
        self.jobs: dict[str, dict] = {}
        self.tasks: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "LoopbackManager":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # --- what a test does to the farm ----------------------------------------------------
    def change_job_type(self) -> None:
        """Simulate an edited job-type script: the etag changes."""
        self.job_types = {name: {**t, "etag": hashlib.sha1(t["etag"].encode()).hexdigest()}
                          for name, t in self.job_types.items()}

    def set_task(self, *, job_id: str, name: str, status: str) -> None:
        """Move one task to ``status``; the job's status follows as Flamenco's would."""
        if status not in TASK_STATUSES:
            raise ValueError(f"not a Flamenco task status: {status}")
        with self.lock:
            task = next(t for t in self.tasks[job_id] if t["name"] == name)
            task["status"], task["updated"] = status, _now()
            self._update_job(job_id)

    def complete_tasks(self, *, job_id: str, count: int | None = None) -> None:
        """Complete the first ``count`` unfinished tasks in order (all when None)."""
        pending = [t["name"] for t in self.tasks[job_id] if t["status"] != "completed"]
        for name in pending[:count]:
            self.set_task(job_id=job_id, name=name, status="completed")

    def _update_job(self, job_id: str) -> None:
        statuses = [t["status"] for t in self.tasks[job_id]]
        job = self.jobs[job_id]
        if "failed" in statuses:
            job["status"], job["activity"] = "failed", "a task failed"
        elif all(s == "completed" for s in statuses):
            job["status"], job["activity"] = "completed", "all tasks completed"
        elif any(s in ("completed", "active", "soft-failed") for s in statuses):
            job["status"] = "active"
            job["activity"] = f"{statuses.count('completed')} of {len(statuses)} tasks completed"
        assert job["status"] in JOB_STATUSES
        job["updated"] = _now()

    # --- the API -------------------------------------------------------------------------
    def handle(self, method: str, path: str, body) -> tuple[int, object]:
        self.requests.append((method, path))
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:2] != ["api", "v3"]:
            return 404, {"code": 404, "message": f"no such endpoint {path}"}
        rest = parts[2:]
        with self.lock:
            if method == "GET" and rest == ["version"]:
                return 200, {"version": "3.7-loopback", "shortversion": "3.7", "name": "FilmCrew loopback",
                             "git": "loopback"}
            if method == "GET" and rest == ["jobs", "types"]:
                return 200, {"job_types": list(self.job_types.values())}
            if method == "GET" and rest[:2] == ["jobs", "type"] and len(rest) == 3:
                found = self.job_types.get(rest[2])
                return (200, found) if found else (404, {"code": 404, "message": f"no such job type {rest[2]}"})
            if method == "GET" and rest == ["worker-mgt", "tags"]:
                return 200, {"tags": self.tags}
            if method == "POST" and rest == ["jobs"]:
                return self._submit(body)
            if method == "GET" and rest[:1] == ["jobs"] and len(rest) in (2, 3):
                job = self.jobs.get(rest[1])
                if job is None:
                    return 404, {"code": 404, "message": f"no such job {rest[1]}"}
                if len(rest) == 2:
                    return 200, job
                if rest[2] == "tasks":
                    return 200, {"tasks": [{k: t[k] for k in ("id", "name", "status", "priority", "task_type",
                                                              "updated")} for t in self.tasks[rest[1]]]}
        return 404, {"code": 404, "message": f"no such endpoint {method} {path}"}

    def _submit(self, body) -> tuple[int, object]:
        try:
            validate_submitted_job(body, self.job_types)
            compiled = compile_tasks(body.get("settings", {}))
        except _Rejected as exc:
            return exc.code, {"code": exc.code, "message": exc.message}
        except (ValueError, KeyError, TypeError) as exc:
            return 400, {"code": 400, "message": f"error compiling job: {exc}"}
        job_id, now = str(uuid.uuid4()), _now()
        job = {**body, "id": job_id, "created": now, "updated": now, "status": "queued", "activity": "Queued"}
        self.jobs[job_id] = job
        self.tasks[job_id] = [{"id": str(uuid.uuid4()), "name": t["name"], "status": "queued",
                               "priority": body["priority"], "task_type": t["type"], "updated": now,
                               "depends": t["depends"]} for t in compiled]
        return 200, job


def _handler(manager: LoopbackManager):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            body = None
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                try:
                    body = json.loads(self.rfile.read(length))
                except json.JSONDecodeError:
                    self._send(400, {"code": 400, "message": "invalid format: body is not JSON"})
                    return
            code, payload = manager.handle(method, self.path, body)
            self._send(code, payload)

        def _send(self, code: int, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def log_message(self, *args) -> None:  # quiet in tests
            pass

    return Handler
