"""Write tests/golden/astronaut.json: landmarks of every shipped model on the example image,
through the torch-free pipeline (crop, ONNX Runtime, DARK decoding, back to the image), for a
fixed face box, so any change of the numbers is seen (tests/test_golden.py, 0.01 px).

Run after a deliberate change of the pipeline or of the shipped weights, and say why in the
commit: python tools/make_golden.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from litehrnet_plus import hub  # noqa: E402
from litehrnet_plus.fileio import atomic_write_json  # noqa: E402
from litehrnet_plus.inference.landmarker import FaceLandmarker  # noqa: E402

# the astronaut's face, in the benchmark convention (tight landmark box), rounded
BOX = [177.0, 88.0, 266.0, 176.0]


def main() -> None:
    image = ROOT / "examples" / "astronaut.jpg"
    out = {"image": "examples/astronaut.jpg", "box": BOX, "models": {}}
    for tag in sorted(hub.available()):
        lm = FaceLandmarker(tag, threads=1, backend="onnxruntime")
        pts = lm.landmarks(image, np.array([BOX]))[0]
        out["models"][tag] = np.round(pts.astype(np.float64), 4).tolist()
    atomic_write_json(ROOT / "tests" / "golden" / "astronaut.json", out)
    print(f"wrote tests/golden/astronaut.json for {', '.join(out['models'])}")


if __name__ == "__main__":
    main()
