"""The video-against-MediaPipe tables, from `bench --mode video --json` (benchmarks/video_mediapipe.json),
put between their markers: every clip and the split of a frame in docs/speed.md
(`<!-- video vs mediapipe -->`), the 250 px clip in the README (`<!-- video summary -->`).

    python tools/video_tables.py benchmarks/video_mediapipe.json
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_CLIP = "250px 640x480"
STAGE_CLIP = "250px 640x480"
STAGES = ("detector", "crop", "network", "decode", "quality", "smoothing", "rest")


def label(tracker: str) -> str:
    return {"mediapipe": "MediaPipe Face Mesh (468 points, read as 68)",
            "dlib": "dlib (HOG detector + 68-point predictor, every frame)"}.get(tracker, f"`{tracker}`")


def full_tables(video: dict) -> str:
    clips = list(video["clips"])
    trackers = list(video["clips"][clips[0]])
    ref = video["reference"]
    lines = ["| tracker | " + " | ".join(clips) + " | NME on the clips | glue (share of a frame outside the network) |",
             "|" + "---|" * (len(clips) + 3)]
    for t in trackers:
        rows = [video["clips"][c][t] for c in clips]
        cells = [f"{r['frames_per_s']:.0f} fps" + (f" ({r[f'vs_{ref}']:.2f}x)" if f"vs_{ref}" in r else "") for r in rows]
        nmes = [r["nme"] for r in rows if r["nme"] is not None]
        glue = [r["stages_ms_per_frame"]["glue_share"] for r in rows if "stages_ms_per_frame" in r]
        lines.append(f"| {label(t)} | " + " | ".join(cells)
                     + (f" | {100 * min(nmes):.2f}-{100 * max(nmes):.2f}%" if nmes else " | -")
                     + (f" | {100 * min(glue):.0f}-{100 * max(glue):.0f}% |" if glue else " | |"))
    split = [f"| tracker ({STAGE_CLIP}, ms per frame) | " + " | ".join(STAGES) + " | total |",
             "|" + "---|" * (len(STAGES) + 2)]
    for t in trackers:
        s = video["clips"][STAGE_CLIP][t].get("stages_ms_per_frame")
        if s:
            split.append(f"| {label(t)} | " + " | ".join(f"{s[k]:.3f}" for k in STAGES)
                         + f" | {sum(s[k] for k in STAGES):.2f} |")
    return "\n".join(lines) + "\n\nThe split of a tracked frame (one instrumented pass after the timed rounds, in whatever phase the machine is in then: it shows where the time goes; the frame rates and ratios above are the figures):\n\n" + "\n".join(split) + "\n"


def summary_table(video: dict) -> str:
    rows = video["clips"][SUMMARY_CLIP]
    ref = video["reference"]
    ref_name = {"mediapipe": "MediaPipe", "dlib": "dlib"}.get(ref, ref)
    lines = [f"| video tracker ({SUMMARY_CLIP.replace('px', ' px face,')}, one thread) | frames/s vs {ref_name} | "
             "NME on the clip |", "|---|---|---|"]
    for t, r in rows.items():
        if t.endswith("[litert]"):
            continue
        lite = rows.get(f"{t} [litert]")
        vs = "1.00x" if t == ref else f"{r[f'vs_{ref}']:.2f}x"
        vs += f" ({lite[f'vs_{ref}']:.2f}x on LiteRT)" if lite else ""
        vs += f" ({r['frames_per_s']:.0f} frames/s)" if t == ref else ""
        nme = "-" if r["nme"] is None else f"{100 * r['nme']:.2f}%"
        if t == "dlib" and r["nme"] is not None:
            nme += " (its model was trained on iBUG 300-W, which may hold this photo)"
        lines.append(f"| {label(t)}{' (default)' if t == 'litehrnet_plus_30m.300w' else ''} | {vs} | {nme} |")
    return "\n".join(lines) + "\n"


def put(path: Path, marker: str, table: str) -> None:
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no {start} ... {end} markers")
    path.write_text(re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{table}{end}", text,
                           flags=re.S))
    print(f"updated {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    args = ap.parse_args()
    video = json.loads(args.report.read_text())["video"]
    put(ROOT / "docs" / "speed.md", "video vs mediapipe", full_tables(video))
    put(ROOT / "README.md", "video summary", summary_table(video))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
