"""The default quality floor of detected faces: real faces lost against false ones kept.

    python tools/measure_quality_floor.py --json benchmarks/quality_floor.json --install
    python tools/measure_quality_floor.py --detector centerface --json benchmarks/quality_floor_centerface.json

For each candidate floor, with the default model and detector:
- wflw-partial end to end: of the annotated faces that a detection matches, how many pass;
  and the detections that match no annotated face (in crowds many are real, unannotated faces);
- face-free tiles of the wflw-partial photos (tools/measure_false_detections.py's), detections kept;
- the demo photo (examples/astronaut.jpg): faces kept (one person).
The floor installed is the highest candidate that keeps at least 98% of the matched real faces
(loses at most one real face in fifty);
`FaceLandmarker.detect` applies it unless `min_quality` says otherwise (0 shows everything).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from litehrnet_plus.benchmarks.groundtruth import matched_face
from litehrnet_plus.benchmarks.groundtruth import face_free_tiles
from litehrnet_plus.data.formats import load_wflw
from litehrnet_plus.data.images import read_image
from litehrnet_plus.fileio import atomic_write_json
from litehrnet_plus.inference.calibration import install
from litehrnet_plus.inference.landmarker import FaceLandmarker
from litehrnet_plus.schemes import WFLW98_TO_IBUG68

ROOT = Path(__file__).resolve().parents[1]
FLOORS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
KEEP_REAL = 0.98


def qualities(lm: FaceLandmarker, wflw: Path, side: int = 320) -> dict:
    by_image: dict = {}
    for s in load_wflw(wflw, "test"):
        by_image.setdefault(s.image_path, []).append(s.landmarks[list(WFLW98_TO_IBUG68)].astype(np.float64))
    real, unmatched, tiles = [], [], []
    for path, faces in sorted(by_image.items()):
        image = read_image(path, orient=False)
        found = lm.detect(image, min_quality=0)
        used = set()
        for gt in faces:
            best = matched_face(found, gt)
            if best is not None:
                real.append(best.quality)
                used.add(id(best))
        unmatched += [f.quality for f in found if id(f) not in used]
        boxes = [np.r_[g.min(0), g.max(0)] for g in faces]
        for t in face_free_tiles(image, boxes, side):
            tiles += [f.quality for f in lm.detect(t, min_quality=0)]
    demo = [f.quality for f in lm.detect(ROOT / "examples" / "astronaut.jpg", min_quality=0)]
    return {"real": real, "unmatched": unmatched, "tiles": tiles, "demo": demo}


def table(q: dict) -> list[dict]:
    rows = []
    for floor in FLOORS:
        kept = {k: int(np.sum(np.asarray(v) >= floor)) for k, v in q.items()}
        rows.append({"floor": floor, "real_kept": kept["real"], "real_found": len(q["real"]),
                     "unmatched_kept": kept["unmatched"], "tile_detections_kept": kept["tiles"],
                     "demo_faces": kept["demo"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="default: the package's default model")
    ap.add_argument("--detector", default="auto", help="default: the best installed (what users get)")
    ap.add_argument("--wflw", type=Path, default=ROOT.parent / "shared/data/wflw-partial")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--install", action="store_true", help="write the chosen floor into inference/calibration.json")
    args = ap.parse_args(argv)
    lm = FaceLandmarker(args.model, detector=args.detector)
    q = qualities(lm, args.wflw)
    rows = table(q)
    ok = [r for r in rows if r["real_kept"] >= KEEP_REAL * r["real_found"]]
    chosen = max(r["floor"] for r in ok)
    res = {"model": lm.model.tag, "detector": lm.detector_name, "rows": rows, "chosen_floor": chosen,
           "rule": f"the highest floor keeping >= {KEEP_REAL:.0%} of the matched real faces",
           "qualities": {k: [round(float(x), 4) for x in v] for k, v in q.items()}}
    print(json.dumps({k: v for k, v in res.items() if k != "qualities"}, indent=1))
    if args.json:
        atomic_write_json(args.json, res)
    if args.install:
        install("quality_floor", None, {"floor": chosen, "measured_by": "python tools/measure_quality_floor.py "
                                        f"--model {lm.model.tag} --json {args.json} --install"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
