"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers of a user's files, for long runs
outside CI, on the properties of tests/test_fuzz.py (hypothesis: the brief pass CI runs). Each
input must give a valid result or the parser's documented UserError; anything else stops the
run with the input saved as crash-* in the working folder. Not collected by pytest.

    pip install atheris            # wheels for CPython 3.11 on Linux x86-64 (not a dependency)
    python tests/fuzz_atheris.py image --seconds 600
    python tests/fuzz_atheris.py pts --seconds 300
    python tests/fuzz_atheris.py card --seconds 300

Targets: image (header size, EXIF orientation, decoding, from real encoded seeds), pts (a
landmark file's text), card (a model card's JSON).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import atheris
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))     # the properties live beside this file
with atheris.instrument_imports():
    import litehrnet_plus.card  # noqa: F401  (instrumented for coverage)
    import litehrnet_plus.data.formats  # noqa: F401
    import litehrnet_plus.data.images  # noqa: F401
from test_fuzz import check_card, check_image_bytes, check_pts_file  # noqa: E402


def seeds(target: str) -> list[bytes]:
    if target == "image":
        img = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
        return [cv2.imencode(ext, img)[1].tobytes() for ext in (".png", ".jpg", ".bmp", ".tiff", ".webp", ".ppm")]
    if target == "pts":
        body = "\n".join(f"{10 + i} {20 + i}" for i in range(68))
        return [f"version: 1\nn_points: 68\n{{\n{body}\n}}\n".encode()]
    return [json.dumps({"model": "litehrnet_plus_10m", "num_landmarks": 68, "input_size": 96}).encode()]


_PTS = Path(tempfile.mkdtemp()) / "f.pts"


def pts(data: bytes) -> None:
    _PTS.write_bytes(data)
    check_pts_file(_PTS)


def card(data: bytes) -> None:
    try:
        d = json.loads(data)
    except (ValueError, RecursionError):
        return                               # not JSON: the card reader never sees it
    if isinstance(d, dict):
        check_card(d)


TARGETS = {"image": check_image_bytes, "pts": pts, "card": card}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--corpus", type=Path, help="a folder to keep the corpus in (default: a temporary one)")
    args, rest = ap.parse_known_args()
    corpus = args.corpus or Path(tempfile.mkdtemp(prefix=f"fuzz_{args.target}_"))
    corpus.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seeds(args.target)):
        (corpus / f"seed{i}").write_bytes(s)
    atheris.Setup([sys.argv[0], f"-max_total_time={args.seconds}", "-print_final_stats=1", *rest, str(corpus)],
                  TARGETS[args.target])
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
