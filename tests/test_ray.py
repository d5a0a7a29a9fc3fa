"""`predict --ray` and `landmarks_dataset` on a real local Ray cluster (127.0.0.1, 2 CPUs):
the same results as one process, nothing lost and nothing twice when a worker is killed or the
run is interrupted and resumed, bad files reported and the rest done."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ASTRONAUT
from litehrnet_plus.batch.predict import Options, run_images, run_video
from litehrnet_plus.batch.results import read_results
from litehrnet_plus.data.images import find_images
from litehrnet_plus.inference.landmarker import FaceLandmarker

ray = pytest.importorskip("ray")
MODEL = "litehrnet_plus_tiny.300w"
SETTINGS = {"model": MODEL, "threads": 1}
RUN_LIMIT_S = 240         # a Ray run that takes longer than this is a failure, not a wait


def variants(folder: Path, n: int) -> list[Path]:
    """n photos of the astronaut, each moved, scaled or mirrored differently (so their
    landmarks differ), in sub-folders; and one file that is no image."""
    photo = cv2.imread(str(ASTRONAUT))
    h, w = photo.shape[:2]
    out = []
    for i in range(n):
        scale = 0.8 + 0.4 * (i % 5) / 4
        m = np.float32([[scale, 0, 4 * (i % 7)], [0, scale, 3 * (i % 3)]])
        img = cv2.warpAffine(photo, m, (w, h))
        if i % 2:
            img = img[:, ::-1].copy()
        path = folder / f"set{i % 3}" / f"face_{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), img)
        out.append(path)
    (folder / "set0" / "broken.jpg").write_bytes(b"not an image at all")
    return out


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster for the in-process tests, stopped after them."""
    from litehrnet_plus.cluster.predict import connect
    _, started = connect(None, 2)
    yield ray
    if started:
        ray.shutdown()


def entries(path: Path) -> list[dict]:
    return read_results(path)["images"]


def same_results(a: list[dict], b: list[dict]) -> None:
    assert [e["file"] for e in a] == [e["file"] for e in b]
    for ea, eb in zip(a, b):
        assert len(ea["faces"]) == len(eb["faces"]), ea["file"]
        for fa, fb in zip(ea["faces"], eb["faces"]):
            assert np.abs(np.array(fa["landmarks"]) - np.array(fb["landmarks"])).max() <= 0.01
            assert fa["quality"] == pytest.approx(fb["quality"], abs=1e-4)


def test_ray_run_equals_the_single_process_run(tmp_path, cluster):
    from litehrnet_plus.cluster.predict import run_images_on_ray

    folder = tmp_path / "photos"
    variants(folder, 10)
    one = run_images(FaceLandmarker(**SETTINGS), folder, Options(json=tmp_path / "one.jsonl"))
    spread = run_images_on_ray(SETTINGS, folder, Options(json=tmp_path / "ray.json", out=tmp_path / "overlays"),
                               workers=2, batch_size=3)
    assert (spread.processed, spread.faces, spread.failed) == (one.processed, one.faces, one.failed) == (10, 10, 1)
    same_results(entries(tmp_path / "one.jsonl"), entries(tmp_path / "ray.json"))
    doc = read_results(tmp_path / "ray.json")
    assert doc["failures"][0]["file"] == "set0/broken.jpg" and "not a readable image" in doc["failures"][0]["error"]
    assert doc["interrupted"] is False
    # the overlays are written by the workers, one per image, where predict puts them
    assert sorted(p.relative_to(tmp_path / "overlays").as_posix() for p in (tmp_path / "overlays").rglob("*.jpg")) \
        == sorted(e["file"] for e in doc["images"])


def test_a_list_file_with_a_missing_path(tmp_path, cluster):
    from litehrnet_plus.cluster.predict import run_images_on_ray

    photos = variants(tmp_path / "photos", 3)
    listing = tmp_path / "todo.txt"
    listing.write_text("# three photos and one that is not there\n" + "\n".join(
        str(p.relative_to(tmp_path)) for p in photos) + "\nphotos/gone.jpg\n")
    rep = run_images_on_ray(SETTINGS, listing, Options(json=tmp_path / "r.jsonl"), workers=1)
    doc = read_results(tmp_path / "r.jsonl")
    assert rep.processed == 3 and [e["file"] for e in doc["images"]] == [p.relative_to(tmp_path).as_posix()
                                                                           for p in photos]
    assert doc["failures"] == [{"file": str(tmp_path / "photos/gone.jpg"), "error": "no such file"}]
    # the single-process run reads the same list the same way
    rep1 = run_images(FaceLandmarker(**SETTINGS), listing, Options(json=tmp_path / "one.jsonl"))
    assert rep1.processed == 3
    same_results(doc["images"], entries(tmp_path / "one.jsonl"))


def test_landmarks_dataset_maps_paths_and_arrays(cluster):
    from litehrnet_plus.cluster import landmarks_dataset

    photo = cv2.imread(str(ASTRONAUT))
    expected = FaceLandmarker(MODEL, threads=1, head_pose=True).detect(photo)
    by_path = ray.data.from_items([{"path": str(ASTRONAUT), "id": 1}])
    by_array = ray.data.from_items([{"image": photo, "id": 2}])
    rows = [row for ds in (by_path, by_array) for row in landmarks_dataset(ds, MODEL, head_pose=True).take_all()]
    assert [r["id"] for r in rows] == [1, 2]                  # the rows keep their own columns
    for r in rows:
        assert r["error"] == "" and (r["width"], r["height"]) == (photo.shape[1], photo.shape[0])
        (face,) = r["faces"]
        assert np.abs(np.array(face["landmarks"]) - expected[0].landmarks).max() <= 0.01
        assert face["head_pose"]["yaw"] == pytest.approx(expected[0].head_pose.yaw, abs=0.01)
    bad = landmarks_dataset(ray.data.from_items([{"path": "/nowhere/x.jpg"}]), MODEL).take_all()
    assert bad[0]["faces"] == [] and "x.jpg" in bad[0]["error"]
    with pytest.raises(Exception, match="max_faces"):
        landmarks_dataset(by_path, MODEL, max_faces=0)


def test_videos_each_tracked_in_one_task(tmp_path, cluster):
    from litehrnet_plus.cluster.predict import run_videos_on_ray

    photo = cv2.imread(str(ASTRONAUT))
    videos = []
    for k, shift in enumerate((2, -2)):
        path = tmp_path / f"clip{k}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (photo.shape[1], photo.shape[0]))
        for i in range(6):
            writer.write(cv2.warpAffine(photo, np.float32([[1, 0, shift * i], [0, 1, 0]]), photo.shape[1::-1]))
        writer.release()
        videos.append(path)
    rep = run_videos_on_ray(SETTINGS, videos, Options(out=tmp_path / "out", max_faces=1), workers=2)
    assert rep.processed == 2 and rep.failed == 0
    for v in videos:
        spread = read_results(tmp_path / "out" / f"{v.stem}.json")
        single = tmp_path / f"{v.stem}.single.json"
        run_video(FaceLandmarker(**SETTINGS), str(v), Options(json=single, max_faces=1))
        frames = read_results(single)["frames"]
        assert len(spread["frames"]) == len(frames) == 6 and (tmp_path / "out" / f"{v.stem}.mp4").is_file()
        for a, b in zip(spread["frames"], frames):
            assert np.abs(np.array(a["faces"][0]["landmarks"]) - np.array(b["faces"][0]["landmarks"])).max() <= 0.01
    # again with --resume: both are complete, nothing is redone
    before = {v: (tmp_path / "out" / f"{v.stem}.json").stat().st_mtime_ns for v in videos}
    again = run_videos_on_ray(SETTINGS, videos, Options(out=tmp_path / "out", max_faces=1, resume=True), workers=2)
    assert again.processed == 2 and before == {v: (tmp_path / "out" / f"{v.stem}.json").stat().st_mtime_ns
                                                for v in videos}


# ----------------------------------------------------------------------------- the command, killed
def _command(folder: Path, results: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "litehrnet_plus.cli", "predict", str(folder), "--model", MODEL, "--ray",
            "--workers", "2", "--json", str(results), *more]


def _entry_lines(results: Path) -> int:
    """Entries written so far to a .jsonl results file (the header line and the end excluded)."""
    if not results.is_file():
        return 0
    lines = results.read_text().splitlines()
    return sum(1 for ln in lines[1:] if ln.startswith("{") and '"file"' in ln and ln.endswith("}"))


def _wait_for(condition, proc: subprocess.Popen, limit: float = RUN_LIMIT_S) -> None:
    start = time.monotonic()
    while not condition():
        assert proc.poll() is None, f"the run ended first: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() - start < limit, "timed out"
        time.sleep(0.05)


def _workers() -> list[int]:
    """PIDs of the landmarker actors of the Ray clusters on this machine."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split(None, 1)[0]) for line in out.splitlines() if "LandmarkWorker" in line]


@pytest.mark.skipif(sys.platform != "linux", reason="finds the worker processes with ps")
def test_a_worker_killed_mid_run_leaves_complete_unique_results(tmp_path):
    photos = variants(tmp_path / "photos", 90)
    results = tmp_path / "r.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_command(tmp_path / "photos", results), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(lambda: _entry_lines(results) >= 1 and _workers(), proc)
        done_at_kill = _entry_lines(results)
        victim = _workers()[0]
        os.kill(victim, signal.SIGKILL)
        _, err = proc.communicate(timeout=RUN_LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert done_at_kill < len(photos), "the run was over before the worker was killed"
    assert proc.returncode == 1, err[-2000:]         # 1: the broken file, reported
    doc = read_results(results)
    names = [e["file"] for e in doc["images"]]
    assert len(names) == len(set(names)) == len(photos)            # complete, each once
    found, _ = find_images(tmp_path / "photos")                    # in the order one process goes
    assert names == [f.relative_to(tmp_path / "photos").as_posix() for f in found if f.name != "broken.jpg"]
    assert [f["file"] for f in doc["failures"]] == ["set0/broken.jpg"]
    # and what the retried batch gave is what one process gives
    run_images(FaceLandmarker(**SETTINGS), tmp_path / "photos", Options(json=tmp_path / "one.jsonl"))
    same_results(doc["images"], entries(tmp_path / "one.jsonl"))


@pytest.mark.skipif(sys.platform != "linux", reason="sends the run a signal")
def test_an_interrupted_run_resumed_does_not_redo_what_was_done(tmp_path):
    photos = variants(tmp_path / "photos", 60)
    results, overlays = tmp_path / "r.jsonl", tmp_path / "overlays"
    proc = subprocess.Popen(_command(tmp_path / "photos", results, "--out", str(overlays)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _entry_lines(results) >= 1, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=RUN_LIMIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    first = read_results(results)
    done = [e["file"] for e in first["images"]]
    assert first["interrupted"] == "SIGINT" and 1 <= len(done) < len(photos)
    stamps = {name: (overlays / name).stat().st_mtime_ns for name in done}
    again = subprocess.run(_command(tmp_path / "photos", results, "--out", str(overlays), "--resume"),
                           capture_output=True, text=True, timeout=RUN_LIMIT_S)
    assert again.returncode == 1, again.stderr[-2000:]             # the broken file, again reported
    assert f"resuming: {len(done)} of {len(photos) + 1} images done" in again.stderr
    doc = read_results(results)
    names = [e["file"] for e in doc["images"]]
    assert doc["interrupted"] is False and len(names) == len(set(names)) == len(photos)
    assert names[:len(done)] == done and doc["images"][:len(done)] == first["images"]
    # what the first run finished was not done again: its overlays were not rewritten
    assert {name: (overlays / name).stat().st_mtime_ns for name in done} == stamps
    assert len(list(overlays.rglob("*.jpg"))) == len(photos)


def test_the_command_refuses_what_ray_does_not_take(tmp_path, capsys):
    """Each refusal comes before any cluster is started (one line, exit 2)."""
    from litehrnet_plus.cli import main

    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"")
    cases = [([str(ASTRONAUT), str(ASTRONAUT)], "several inputs are several videos on a Ray cluster"),
             ([str(ASTRONAUT), "--ray"], "--ray takes a folder of images, a list file or videos"),
             ([str(tmp_path), "--ray", "--show"], "a Ray run has no window"),
             ([str(clip), str(clip), "--ray"], "need --out FOLDER"),
             ([str(clip), str(tmp_path / "b" / "a.mp4"), "--ray", "--out", str(tmp_path / "o")], "two videos named")]
    for argv, message in cases:
        assert main(["predict", *argv, "--model", MODEL]) == 2, argv
        assert message in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        main(["predict", str(tmp_path), "--ray", "--workers", "0"])
    assert "must be at least 1" in capsys.readouterr().err
