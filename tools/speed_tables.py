"""The speed tables of `bench --json` reports, put between their markers:

- `--mode video` (benchmarks/video_mediapipe.json): every clip and the split of a frame in
  docs/speed.md (`<!-- video vs mediapipe: MACHINE -->`, one pair per machine), the 250 px clip of the
  first video report in the README (`<!-- video summary -->`);
- `--mode end-to-end` (benchmarks/end_to_end.json): per face and per video frame against dlib in
  docs/speed.md (`<!-- end to end -->`).

    python tools/speed_tables.py            # the published reports (REPORTS), or name others
    python tools/speed_tables.py --check    # change nothing: exit 1 where a page's table differs
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
E2E_STAGES = ("crop", "normalise", "network", "decode", "map back")
# the reports the pages show, in order: the README's video summary comes from the first video report
REPORTS = ("benchmarks/video_mediapipe_xeon.json", "benchmarks/video_mediapipe.json",
           "benchmarks/end_to_end.json", "benchmarks/end_to_end_xeon.json")


def machine_name(report: dict) -> str:
    """`AMD EPYC VM`, `Intel Xeon VM`: the CPU a report was measured on, as the docs name it."""
    cpu = report["machine"]["cpu"].replace("(R)", "").replace(" Processor", "").strip()
    return f"{cpu} VM"


def shown_path(path: Path) -> str:
    """A report's path as the docs show it: from the repository's root where it lies inside."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


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


def summary_table(report: dict) -> str:
    video = report["video"]
    rows = video["clips"][SUMMARY_CLIP]
    ref = video["reference"]
    ref_name = {"mediapipe": "MediaPipe", "dlib": "dlib"}.get(ref, ref)
    clip = SUMMARY_CLIP.replace("px", " px face,")
    lines = [f"| video tracker ({clip}, one thread, {machine_name(report)}) | frames/s vs {ref_name} | NME on the clip |",
             "|---|---|---|"]
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


def end_to_end_table(reports: list[tuple[str, dict]]) -> str:
    """One table, a block per (path as shown, report): each machine's run beside its own dlib."""
    lines = ["| model | ms per face | time / dlib's | " + " | ".join(E2E_STAGES) + " | video frames/s | vs dlib |",
             "|" + "---|" * (len(E2E_STAGES) + 5)]
    for name, report in reports:
        e2e = report["end_to_end"]
        dlib = (f"dlib {e2e['dlib_ms_per_face_median']:.2f} ms per face, {e2e['dlib_video_frames_per_s']:.0f} "
                "frames/s detecting every frame" if "dlib_ms_per_face_median" in e2e else f"dlib not timed: {e2e['dlib']}")
        lines.append(f"| {machine_name(report)} (`{name}`; {dlib}) |" + " |" * (len(E2E_STAGES) + 4))
        for model, r in e2e["models"].items():
            tag, _, runtime = model.partition(" [")
            shown = f"`{tag}`" + (", LiteRT" if runtime.startswith("litert") else "")
            per_face = f"{r['time_vs_dlib']:.2f}x" if "time_vs_dlib" in r else "-"
            video = f"{r['video_speed_vs_dlib']:.1f}x" if "video_speed_vs_dlib" in r else "-"
            lines.append(f"| {shown} | {r['ms_per_face_median']:.2f} | {per_face} | "
                         + " | ".join(f"{r['stages_ms'][k]:.2f}" for k in E2E_STAGES)
                         + f" | {r['video_frames_per_s']:.0f} | {video} |")
    return "\n".join(lines) + "\n"


def put(path: Path, marker: str, table: str, check: bool = False) -> bool:
    """Put `table` between the marker pair of `path`; with check, only say whether it is there
    already. True where the page shows this table."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path}: no {start} ... {end} markers")
    new = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{table}{end}", text, flags=re.S)
    if check:
        if new != text:
            print(f"{path}: the {marker} table differs from its report")
        return new == text
    path.write_text(new)
    print(f"updated {path}")
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", type=Path, nargs="*", default=[ROOT / r for r in REPORTS],
                    help="bench --json reports, video and/or end-to-end (default: REPORTS)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 where a page's table differs")
    args = ap.parse_args()
    reports = [(path, json.loads(path.read_text())) for path in args.reports]
    for path, report in reports:
        if "video" not in report and "end_to_end" not in report:
            raise SystemExit(f"{path}: neither a video nor an end-to-end report")
    speed, readme = ROOT / "docs" / "speed.md", ROOT / "README.md"
    same = []
    videos = [report for _, report in reports if "video" in report]
    for report in videos:       # each machine's run between its own markers
        same.append(put(speed, f"video vs mediapipe: {machine_name(report)}", full_tables(report["video"]), args.check))
    if videos:                  # the README shows the first video report given
        same.append(put(readme, "video summary", summary_table(videos[0]), args.check))
    e2e = [(shown_path(path), report) for path, report in reports if "end_to_end" in report]
    if e2e:
        same.append(put(speed, "end to end", end_to_end_table(e2e), args.check))
    return 0 if all(same) else 1


if __name__ == "__main__":
    raise SystemExit(main())
