"""`bench --mode video`: clips with their truth, each tracker timed and scored, the split of a
tracked frame, and MediaPipe skipped with a line saying why where its environment is missing."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import ASTRONAUT, ROOT
from litehrnet_plus.benchmarks.video import CLIPS, STAGES, make_clip, run_video_bench
from litehrnet_plus.data.formats import write_pts

MODEL = "litehrnet_plus_tiny.300w"


@pytest.fixture()
def folder(tmp_path):
    """The astronaut with her landmarks as ground truth (the golden file's, from the 30M)."""
    golden = json.loads((ROOT / "tests" / "golden" / "astronaut.json").read_text())
    shutil.copy(ASTRONAUT, tmp_path / "astronaut.jpg")
    write_pts(tmp_path / "astronaut.pts", np.array(golden["models"]["litehrnet_plus_30m.300w"]))
    return tmp_path


def test_a_clip_moves_its_truth_with_its_frames():
    photo = np.zeros((200, 200, 3), np.uint8)
    truth = np.stack([np.linspace(50, 150, 68), np.linspace(60, 140, 68)], axis=1)
    photo[100, 100] = 255                                          # a marked pixel at a known place
    truth[0] = (100, 100)
    clip = make_clip(photo, truth, face=250, width=640, height=480, n=8)
    assert len(clip.frames) == 8 and clip.frames[0].shape == (480, 640, 3)
    side = np.ptp(clip.truth[0], axis=0).max()
    assert side == pytest.approx(250, abs=1e-6)
    for frame, pts in zip(clip.frames, clip.truth):                # the mark is where the truth says
        y, x = np.unravel_index(np.argmax(frame[:, :, 0]), frame.shape[:2])
        assert abs(x - pts[0, 0]) <= 1.5 and abs(y - pts[0, 1]) <= 1.5
    assert clip.truth[2, 0, 0] > clip.truth[0, 0, 0]               # it pans


def test_the_report_times_scores_and_splits(folder, monkeypatch):
    monkeypatch.delenv("LITEHRNET_MEDIAPIPE_PYTHON", raising=False)
    lines = []
    rep = run_video_bench([MODEL], folder, rounds=1, frames=30, use_dlib=False, log=lines.append)
    assert any("MediaPipe skipped" in ln and "--mediapipe-python" in ln for ln in lines)
    assert rep["reference"] is None and len(rep["clips"]) == len(CLIPS)
    for clip, rows in rep["clips"].items():
        row = rows[MODEL]
        assert row["frames_with_face"] == 1.0 and row["nme"] < 0.06, clip      # it tracks her face
        assert row["frames_per_s"] > 0 and row["cpu_ms_per_frame"] > 0
        stages = row["stages_ms_per_frame"]
        assert set(stages) == set(STAGES) | {"glue_share"}
        assert stages["network"] > 0 and stages["detector"] > 0 and 0 < stages["glue_share"] < 1


def test_the_facemesh_table_reads_468_points_as_68():
    from litehrnet_plus.benchmarks.facemesh import to_68, vertex_table

    table = vertex_table()
    assert table.shape == (68,) and len(set(table.tolist())) >= 60       # nearly all distinct vertices
    mesh = np.arange(468 * 2, dtype=float).reshape(468, 2)
    np.testing.assert_array_equal(to_68(mesh), mesh[table])
