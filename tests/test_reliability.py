"""Never lose work: SIGKILLed training resumes to the same weights; outputs are atomic and
never overwritten silently; a full disk is a clear error that leaves the old file intact."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from litehrnet_plus.engine.checkpoint import load_checkpoint
from litehrnet_plus.engine.config import config_from_dict
from litehrnet_plus.engine.train import train
from litehrnet_plus.fileio import OutputExistsError, atomic_write_bytes, check_writable

from synthetic import make_300w, tiny_config

EPOCHS = 6


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_300w(tmp_path_factory.mktemp("data"), {"afw": 16, "lfpw/testset": 4}, seed=5)


def _start(cfg_path: Path, resume: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "litehrnet_plus.cli", "train", str(cfg_path), "--quiet"]
    if resume:
        args.append("--resume")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_the_same_weights(data, tmp_path):
    reference = config_from_dict(tiny_config(data, tmp_path / "ref", epochs=EPOCHS))
    train(reference, progress=False, log=lambda *a: None)

    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(data, tmp_path / "run", epochs=EPOCHS)))
    last = tmp_path / "run" / "last.pt"
    rng = np.random.default_rng(0)
    kills = 0
    for attempt in range(8):
        proc = _start(cfg_path, resume=attempt > 0)
        # kill somewhere in the next few seconds: during start-up, training or a checkpoint write
        deadline = time.monotonic() + rng.uniform(0.5, 3.0)
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        else:
            assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
        if last.exists():
            state = load_checkpoint(last)               # never torn: loads after every kill
            if state["epoch"] == EPOCHS - 1:
                break
    else:
        proc = _start(cfg_path, resume=True)
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()[-2000:]
    print(f"killed {kills} times")
    assert kills >= 1
    assert not list((tmp_path / "run").glob(".*.tmp")), "temporary files left behind"
    a, b = load_checkpoint(tmp_path / "ref" / "last.pt")["model"], load_checkpoint(last)["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_outputs_are_not_overwritten_silently(tmp_path):
    p = tmp_path / "out.json"
    p.write_text("old")
    with pytest.raises(OutputExistsError, match="out.json: output exists; pass --overwrite"):
        check_writable(p, overwrite=False)
    assert check_writable(p, overwrite=True) == p


def test_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "weights.bin"
    p.write_bytes(b"old contents")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="weights.bin: cannot write output .No space left on device"):
        atomic_write_bytes(p, b"new contents")
    assert p.read_bytes() == b"old contents"
    assert not list(tmp_path.glob(".*.tmp"))


def test_unwritable_output_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="cannot create output folder"):
        check_writable(blocker / "sub" / "out.json", overwrite=False)
