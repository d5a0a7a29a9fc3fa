"""`bench --mode end-to-end`: per-face and video timing beside dlib, and its report."""
from __future__ import annotations

import json

from litehrnet_plus.cli import main
from litehrnet_plus.benchmarks.end_to_end import pan_frames, run_end_to_end
from synthetic import make_300w

SHIPPED = "litehrnet_plus_10m.300w"


def test_end_to_end_report(tmp_path):
    folder = make_300w(tmp_path / "faces", {"set": 3}, size=128) / "set"
    rep = run_end_to_end([SHIPPED], folder, faces=3, rounds=2, burst=2, video_frames=6, log=lambda *_: None)
    row = rep["models"][SHIPPED]
    assert rep["photos"] == 3 and rep["video"]["frames"] == 6
    assert row["ms_per_face_median"] > 0 and row["video_frames_per_s"] > 0
    stages = row["stages_ms"]
    assert set(stages) == {"crop", "normalise", "network", "decode", "map back"}
    assert max(stages, key=stages.get) == "network"           # the glue around it is the smaller part
    # counted over one pass of the 6-frame clip: at least the first frame, at most every frame
    assert 1 <= row["detector_runs_last_clip"] <= 6
    if "dlib_ms_per_face_median" in rep:       # the dlib extra is installed
        assert row["time_vs_dlib"] > 0 and row["video_speed_vs_dlib"] > 0


def test_pan_frames_are_video_sized():
    import numpy as np
    frames = pan_frames(np.zeros((100, 80, 3), np.uint8), 4)
    assert len(frames) == 4 and all(f.shape == (480, 640, 3) for f in frames)


def test_end_to_end_needs_photos(tmp_path, capsys):
    assert main(["bench", "--mode", "end-to-end", "--model", SHIPPED]) == 2
    assert "--crops" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["bench", "--mode", "end-to-end", "--model", SHIPPED, "--crops", str(tmp_path / "empty")]) == 2


def test_end_to_end_command_writes_json(tmp_path):
    folder = make_300w(tmp_path / "faces", {"set": 2}, size=128) / "set"
    out = tmp_path / "e2e.json"
    assert main(["bench", "--mode", "end-to-end", "--model", SHIPPED, "--crops", str(folder), "--rounds", "1",
                 "--video-frames", "5", "--no-dlib", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["end_to_end"]["dlib"] == "not requested" and SHIPPED in doc["end_to_end"]["models"]
