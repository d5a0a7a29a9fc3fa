"""The speed tables of the README and docs/speed.md are what their benchmark records say
(tools/speed_tables.py writes them; `--check` compares without writing)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def check(root: Path = ROOT, *reports: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(root / "tools" / "speed_tables.py"), "--check", *reports], cwd=root,
                          capture_output=True, text=True, timeout=60)


def test_the_published_tables_are_their_records():
    r = check()
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_figure_that_differs_from_its_record_is_named(tmp_path):
    # a copy of the pages, the tool and the records, where one record's figure changes
    shutil.copytree(ROOT / "benchmarks", tmp_path / "benchmarks")
    for name in ("tools/speed_tables.py", "README.md", "docs/speed.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    assert check(tmp_path).returncode == 0
    record = tmp_path / "benchmarks" / "end_to_end_xeon.json"
    e2e = json.loads(record.read_text())
    e2e["end_to_end"]["models"]["litehrnet_plus_tiny.300w"]["time_vs_dlib"] = 0.5
    record.write_text(json.dumps(e2e))
    r = check(tmp_path)
    assert r.returncode == 1
    assert "the end to end table differs from its report" in r.stdout
    assert "video summary" not in r.stdout and "video vs mediapipe" not in r.stdout


def test_a_report_of_another_kind_is_refused(tmp_path):
    other = tmp_path / "speed.json"
    other.write_text(json.dumps({"format": "litehrnet_plus.bench/1", "machine": {"cpu": "x"}, "rows": []}))
    r = check(ROOT, str(other))
    assert r.returncode != 0 and "neither a video nor an end-to-end report" in r.stderr
