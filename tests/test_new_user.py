"""What tripped a new user, each reproduced and checked: bare architecture names, unknown names,
arguments refused before any output, hints that are commands that work, plain wording, tools
without the data, missing extras named before the work, the skipped real-data tests named."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ASTRONAUT, ROOT
from litehrnet_plus.errors import CheckpointError
from litehrnet_plus.extras import install_hint, source_folder
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.resolve import resolve_spec


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "litehrnet_plus.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=300)


def _hide(tmp_path: Path, *modules: str) -> dict:
    """An environment in which importing these modules fails as if they were not installed."""
    for m in modules:
        (tmp_path / f"{m}.py").write_text(f"raise ModuleNotFoundError(\"No module named '{m}'\", name='{m}')\n")
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])}


def test_a_bare_architecture_name_means_its_shipped_weights():
    lm = FaceLandmarker("litehrnet_plus_10m")
    assert lm.model.tag == "litehrnet_plus_10m.300w"
    r = _cli("predict", str(ASTRONAUT), "--model", "litehrnet_plus_10m")
    assert r.returncode == 0, r.stderr
    assert '"model": "litehrnet_plus_10m.300w"' in r.stdout
    assert r.stderr.strip().splitlines()[-1] == "1 image, 1 face"


def test_an_unknown_name_says_which_tags_exist():
    with pytest.raises(CheckpointError) as e:
        FaceLandmarker("nosuch")
    assert "nosuch: no shipped weights of that name" in str(e.value)
    assert "litehrnet_plus_30m.300w" in str(e.value) and "architecture" not in str(e.value)


@pytest.mark.parametrize("value", ["2", "-0.1", "nan"])
def test_a_bad_min_quality_is_refused_before_any_output(value):
    r = _cli("predict", str(ASTRONAUT), "--min-quality", value)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == f"error: min_quality must be a number in [0, 1], got {float(value)!r}"


def test_min_quality_as_text_is_a_user_error():
    with pytest.raises(Exception, match="min_quality must be a number") as e:
        FaceLandmarker().detect(ASTRONAUT, min_quality="0.5")
    assert not isinstance(e.value, TypeError)


def test_a_checkpoint_given_to_predict_says_how_to_export_it(tmp_path):
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"\x80")
    r = _cli("predict", str(ASTRONAUT), "--model", str(ckpt))
    assert r.returncode == 2
    assert "litehrnet-plus export --model" in r.stderr and "PyTorch backend" not in r.stderr


def test_wrong_file_kind_reads_plainly(tmp_path):
    f = tmp_path / "m.onnx"
    f.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="an onnx file, and this needs a .tflite one"):
        resolve_spec(f).file("tflite")


def test_install_hints_are_commands_that_work_from_the_checkout():
    root = source_folder()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert install_hint("dlib") == f"pip install '{root}[dlib]'"
    assert "own virtual environment" in install_hint("mediapipe")
    extras = (root / "pyproject.toml").read_text()
    for extra in ("dlib", "mediapipe", "litert", "train"):
        assert f"\n{extra} = [" in extras          # the hint names an extra that exists


def test_the_driver_video_tool_without_data_says_so(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_driver_video.py"), str(tmp_path / "v.mp4"),
                        "--data", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "pass --data DIR" in r.stderr


def test_evaluate_names_a_missing_plotting_library_before_the_run(tmp_path):
    env = _hide(tmp_path, "matplotlib")
    r = _cli("evaluate", "--model", "litehrnet_plus_tiny.300w", "--dataset", "pts", "--root", str(tmp_path / "none"),
             "--ced", str(tmp_path / "ced.png"), env=env)
    assert r.returncode == 2 and r.stdout == ""
    assert "'train' extra" in r.stderr and "Traceback" not in r.stderr


def test_bench_times_shipped_models_without_pytorch(tmp_path):
    env = _hide(tmp_path, "torch")
    r = _cli("bench", "--model", "litehrnet_plus_tiny.300w", "--batch-size", "1", "--threads", "1",
             "--seconds", "0.2", "--rounds", "1", "--no-dlib", "--graphs", "deploy", env=env)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "timing its shipped ONNX graph" in r.stderr


def test_flops_says_how_many_landmarks_it_counts():
    pytest.importorskip("torch")
    r = _cli("flops", "--model", "litehrnet_plus_tiny")
    assert r.returncode == 0 and r.stdout.startswith("98 landmarks, 96x96 input")


def test_skipped_real_data_tests_are_named_in_the_summary(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\n\n@pytest.mark.realdata\ndef test_needs_data():\n    pass\n")
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe),
                        "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env={**os.environ, "LITEHRNET_DATA": str(tmp_path / "nowhere")})
    assert "1 real-data tests skipped: no data at" in r.stdout and "LITEHRNET_DATA" in r.stdout, r.stdout


def test_the_documented_csv_config_trains(tmp_path):
    """docs/your_own_data.md's CSV config, pointed at a CSV dataset made here, trains and evaluates."""
    pytest.importorskip("torch")
    import re

    import cv2
    import yaml

    from synthetic import make_face

    from litehrnet_plus.engine.config import load_config
    from litehrnet_plus.engine.train import train

    doc = (ROOT / "docs" / "your_own_data.md").read_text()
    raw = yaml.safe_load(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    faces = tmp_path / "faces"
    faces.mkdir()
    import numpy as np
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("val", 3)):
        rows = []
        for i in range(n):
            img, pts = make_face(rng)
            cv2.imwrite(str(faces / f"{split}_{i}.png"), img)
            rows.append(",".join([f"{split}_{i}.png", *(f"{v:.2f}" for v in pts.ravel())]))
        (faces / f"{split}.csv").write_text("\n".join(rows) + "\n")
    raw["data"]["root"] = str(faces)
    raw["model"] = {"name": "litehrnet_plus_10m", "overrides": {"widths": [8, 16, 32, 64], "num_modules": [1, 1, 1],
                                                               "stem_channels": 8, "stem_out_channels": 8}}
    raw["train"].update(epochs=1, batch_size=4, threads=1, val_every=1, warmup_epochs=0)
    raw["out"] = str(tmp_path / "run")
    cfg_path = tmp_path / "my_faces.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    result = train(load_config(cfg_path, []), progress=False, log=lambda *a: None)
    assert np.isfinite(result["best_val_nme"]) and (tmp_path / "run" / "last.pt").is_file()
