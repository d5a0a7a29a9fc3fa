"""Train the eye-state classifier on mrl-eyes and write the shipped ONNX file.

    python tools/train_eye_state.py [--data ../shared/data/mrl-eyes] [--epochs 30]

Index blocks 1-3500 train, 3501-4000 validate (the epoch kept), 4001-5000 test; with
--300w, the eyes of the 300-W training faces join the training set (engine/eye_state.py). The
figures go into the model's metadata and benchmarks/eye_state_training.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus.engine.eye_state import EyeTrainConfig, train_eye_state  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.monitor.eyes import EYE_MODEL_FILE  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/mrl-eyes")
    ap.add_argument("--out", type=Path, default=EYE_MODEL_FILE)
    ap.add_argument("--300w", dest="w300", type=Path, default=ROOT.parent / "shared/data/300w",
                    help="add the eyes of these 300-W training faces ('none' to train on mrl-eyes alone)")
    ap.add_argument("--epochs", type=int, default=EyeTrainConfig.epochs)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks/eye_state_training.json")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    extra = None
    if str(args.w300) != "none":
        from litehrnet_plus.data.formats import load_300w
        from litehrnet_plus.engine.eye_state import landmark_eyes
        extra = landmark_eyes(load_300w(args.w300, "train"))
    info = train_eye_state(args.data, args.out, EyeTrainConfig(epochs=args.epochs), extra=extra)
    atomic_write_json(args.json, info)
    print(json.dumps(info["figures"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
