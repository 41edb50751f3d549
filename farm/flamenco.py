"""A small client of the Flamenco Manager v3 REST API (standard library only, no bpy).

Only what FilmCrew uses: the version (is this a Flamenco Manager?), job types and their etag,
worker tags, job submission, and a job's status and task summary. Every error names the
Manager, the endpoint and what it answered, so a studio can tell a wrong URL from a missing
job type from a rejected job.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from ..errors import FilmCrewError

# Flamenco's JobStatus and TaskStatus enums (pkg/api/flamenco-openapi.yaml).
JOB_STATUSES = ("active", "canceled", "completed", "failed", "paused", "queued", "cancel-requested",
                "requeueing", "under-construction")
TASK_STATUSES = ("active", "canceled", "completed", "failed", "queued", "soft-failed", "paused")
FINAL_JOB_STATUSES = ("canceled", "completed", "failed")


class FarmError(FilmCrewError):
    """The Manager cannot be reached, answered an error, or rejected a job."""


class EtagMismatch(FarmError):
    """The job type changed on the Manager after its etag was read (HTTP 412)."""


@dataclass(frozen=True)
class JobType:
    name: str
    label: str
    etag: str
    settings: list[dict]


class FlamencoClient:
    """Talks to one Flamenco Manager, e.g. ``FlamencoClient(manager="http://farm:8080")``."""

    def __init__(self, *, manager: str, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlparse(manager)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise FarmError(f"--manager must be an http(s) URL like http://flamenco:8080, not '{manager}'")
        self.manager = manager.rstrip("/")
        self.timeout = timeout

    # --- the endpoints ----------------------------------------------------------------
    def version(self) -> dict:
        """GET /api/v3/version; checks the answer is a Flamenco Manager's."""
        answer = self._call("GET", "/api/v3/version")
        if not isinstance(answer, dict) or "version" not in answer:
            raise FarmError(f"{self.manager}/api/v3/version: not a Flamenco Manager (no 'version' in the answer)")
        return answer

    def job_types(self) -> list[JobType]:
        """GET /api/v3/jobs/types: the job types installed on the Manager."""
        answer = self._call("GET", "/api/v3/jobs/types")
        return [_job_type(item, self.manager) for item in _field(answer, "job_types", self.manager)]

    def job_type(self, *, name: str) -> JobType:
        """GET /api/v3/jobs/type/{name}, after checking the list, so a missing type says so plainly."""
        if name not in {t.name for t in self.job_types()}:
            raise FarmError(f"{self.manager}: job type '{name}' is not installed; copy assets/flamenco/{name}.js "
                            "into the Manager's scripts/ folder and restart the Manager")
        return _job_type(self._call("GET", f"/api/v3/jobs/type/{urllib.parse.quote(name)}"), self.manager)

    def worker_tag_id(self, *, name: str) -> str:
        """The UUID of the worker tag called ``name`` (GET /api/v3/worker-mgt/tags)."""
        answer = self._call("GET", "/api/v3/worker-mgt/tags")
        tags = answer.get("tags") or [] if isinstance(answer, dict) else []
        for tag in tags:
            if tag.get("name") == name or tag.get("id") == name:
                return tag["id"]
        known = ", ".join(sorted(t.get("name", "?") for t in tags)) or "none"
        raise FarmError(f"{self.manager}: no worker tag '{name}' (tags: {known}); create it in the Manager's "
                        "web interface under Workers > Tags")

    def submit_job(self, *, job: dict) -> dict:
        """POST /api/v3/jobs with a SubmittedJob; returns the Job (with its ``id`` and ``status``)."""
        answer = self._call("POST", "/api/v3/jobs", body=job)
        _field(answer, "id", self.manager)
        return answer

    def job(self, *, job_id: str) -> dict:
        """GET /api/v3/jobs/{job_id}."""
        return self._call("GET", f"/api/v3/jobs/{urllib.parse.quote(job_id)}")

    def job_tasks(self, *, job_id: str) -> list[dict]:
        """GET /api/v3/jobs/{job_id}/tasks: the TaskSummary list."""
        answer = self._call("GET", f"/api/v3/jobs/{urllib.parse.quote(job_id)}/tasks")
        return list(answer.get("tasks") or []) if isinstance(answer, dict) else []

    # --- transport --------------------------------------------------------------------
    def _call(self, method: str, endpoint: str, *, body: dict | None = None):
        url = self.manager + endpoint
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/json", **({"Content-Type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, method, url) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FarmError(f"cannot reach the Flamenco Manager at {self.manager} ({method} {endpoint}): "
                            f"{reason}; check --manager and that the Manager is running") from None
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise FarmError(f"{method} {url}: the answer is not JSON; is this a Flamenco Manager?") from None


def _http_error(exc: urllib.error.HTTPError, method: str, url: str) -> FarmError:
    """Flamenco's Error object ({code, message}) as one line naming the endpoint."""
    try:
        payload = json.loads(exc.read() or b"{}")
        message = payload.get("message") if isinstance(payload, dict) else None
    except (json.JSONDecodeError, OSError):
        message = None
    message = message or exc.reason or "no message"
    if exc.code == 412:
        return EtagMismatch(f"{method} {url}: HTTP 412, the job type changed on the Manager since its etag was "
                            f"read ({message}); submit again")
    return FarmError(f"{method} {url}: HTTP {exc.code}: {message}")


def _field(answer, key: str, manager: str):
    if not isinstance(answer, dict) or key not in answer:
        raise FarmError(f"{manager}: unexpected answer from the Manager (no '{key}')")
    return answer[key]


def _job_type(item: dict, manager: str) -> JobType:
    for key in ("name", "etag"):
        _field(item, key, manager)
    return JobType(name=item["name"], label=item.get("label", item["name"]), etag=item["etag"],
                   settings=list(item.get("settings") or []))
