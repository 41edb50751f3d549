"""``filmcrew farm status``: each submitted shot's job status and task counts (no bpy)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import FilmCrewError
from .flamenco import FlamencoClient
from .submit import FARM_FILE, read_farm


@dataclass(frozen=True)
class ShotStatus:
    shot: str
    kind: str
    job_id: str
    status: str
    tasks: dict[str, int]  # task status -> count
    activity: str

    @property
    def done_tasks(self) -> int:
        return self.tasks.get("completed", 0)

    @property
    def total_tasks(self) -> int:
        return sum(self.tasks.values())


def farm_status(*, out: Path, manager: str | None = None) -> list[ShotStatus]:
    """Ask the Manager recorded in farm.json (or ``manager``) about every job FilmCrew submitted."""
    record = read_farm(Path(out))
    if not record["jobs"]:
        raise FilmCrewError("no jobs submitted yet; run `filmcrew farm submit` first", path=Path(out) / FARM_FILE)
    url = manager or record.get("manager")
    if not url:
        raise FilmCrewError("no Manager recorded; give --manager", path=Path(out) / FARM_FILE)
    client = FlamencoClient(manager=url)
    rows = []
    for shot, entry in record["jobs"].items():
        job = client.job(job_id=entry["job_id"])
        counts = Counter(t.get("status", "?") for t in client.job_tasks(job_id=entry["job_id"]))
        rows.append(ShotStatus(shot=shot, kind=entry.get("kind", "render"), job_id=entry["job_id"],
                               status=job.get("status", "?"), tasks=dict(counts), activity=job.get("activity", "")))
    return rows


def status_table(rows: list[ShotStatus]) -> str:
    """One line per shot: shot, kind, job status, completed/total tasks, failures, activity."""
    lines = [f"{'shot':<12} {'kind':<7} {'status':<19} {'tasks':>7}  activity"]
    for row in rows:
        failed = row.tasks.get("failed", 0) + row.tasks.get("soft-failed", 0)
        tasks = f"{row.done_tasks}/{row.total_tasks}"
        extra = f" ({failed} failed)" if failed else ""
        lines.append(f"{row.shot:<12} {row.kind:<7} {row.status:<19} {tasks:>7}  {row.activity}{extra}".rstrip())
    return "\n".join(lines)
