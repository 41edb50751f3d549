"""Bad input: one-line errors that name the problem and the place; nothing produced is damaged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from filmcrew.cli import main

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "coffee_shop.fountain"


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["-q", *args])
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("filmcrew: error:")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_screenplay(tmp_path, capsys):
    code, err = run_cli(capsys, "plan", str(tmp_path / "nope.fountain"), "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "nope.fountain", "no such file")
    assert not (tmp_path / "out").exists()


def test_empty_screenplay(tmp_path, capsys):
    empty = tmp_path / "empty.fountain"
    empty.write_text("\n\n")
    code, err = run_cli(capsys, "plan", str(empty), "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "empty.fountain", "empty")


def test_non_fountain_file(tmp_path, capsys):
    data = tmp_path / "data.json"
    data.write_text('{"scenes": [1, 2, 3], "title": "not a screenplay"}\n')
    code, err = run_cli(capsys, "plan", str(data), "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "data.json")


def test_scene_without_characters_names_the_heading_line(tmp_path, capsys):
    script = tmp_path / "empty_scene.fountain"
    script.write_text("Title: Nobody\n\nEXT. DESERT - DAY\n\nSand, as far as the eye can see.\n\n"
                      "INT. CAFE - DAY\n\nANNA\nHello?\n")
    code, err = run_cli(capsys, "plan", str(script), "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "empty_scene.fountain:3", "no characters")


def test_foreign_output_folder_is_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"jpeg")
    code, err = run_cli(capsys, "plan", str(SAMPLE), "--out", str(out))
    assert_one_line_error(code, err, "photos", "holds other files", "holiday.jpg")
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_output_folder(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code, err = run_cli(capsys, "plan", str(SAMPLE), "--out", str(out))
    finally:
        out.chmod(0o700)
    assert_one_line_error(code, err, "ro")


def test_read_only_output_folder_as_root(tmp_path):
    """Root ignores permission bits, so make the folder a read-only mount's stand-in: a file."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    result = subprocess.run([sys.executable, "-m", "filmcrew.cli", "-q", "plan", str(SAMPLE), "--out",
                             str(blocker)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "not a folder" in result.stderr
    assert blocker.read_text() == "x"


def test_unknown_set_kind_in_plan_names_the_field(tmp_path, capsys):
    from filmcrew.staging.sets import load_recipe
    from filmcrew.errors import SetError

    with pytest.raises(SetError, match="unknown set kind 'spaceship'"):
        load_recipe("spaceship", set_id="bridge")


def test_stage_without_plan_says_which_stage_to_run(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code, err = run_cli(capsys, "stage", str(out))
    assert_one_line_error(code, err, "plan.json", "filmcrew plan")


def test_bad_resolution_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["make", str(SAMPLE), "--out", str(tmp_path), "--resolution", "big"])
    assert exit_info.value.code == 2
    assert "480x270" in capsys.readouterr().err
