"""Turn a dataset's faces in 3D and write them as an ordinary dataset (300-W layout).

    OUT/<the face's folder>/<name>_y+40.jpg, .pts     one turned view: target |yaw| 40 degrees, towards
                                                      the side the face faces (the signed yaw is in
                                                      the manifest)
    OUT/manifest.csv                                  every view: source face, yaws and pitches
    OUT/left_out.csv                                  faces not profiled, and why
    OUT/profile.json                                  the settings and the counts

Deterministic from the seed (each face draws from its own generator, so the order of work and
an interruption change nothing), resumable (a face is done when its record is written; a rerun
skips it), atomic file by file.
"""
from __future__ import annotations

import csv
import io
import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from ..data.formats import FaceSample, write_pts
from ..data.images import read_image
from ..errors import ConfigError, UserError
from ..fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from .image_mesh import build_image_mesh, rig_landmarks, turned_landmarks, warp
from .surrey import SurreyModel

RECORDS = ".records"
MANIFEST_FIELDS = ("image", "source", "source_yaw", "source_pitch", "yaw", "pitch", "fit_error")


@dataclass(frozen=True)
class ProfileSettings:
    """yaws: target yaws (degrees, towards the side the face already faces; 0 is frontal);
    min_turn: a view is made only where target >= |the face's yaw| + min_turn (negative: a turn
    back of at most that much is allowed); jitter: +- degrees drawn per view around the target;
    pitch: +- degrees of pitch change drawn per view; max_fit_error: faces whose inner points
    the 3D fit misses by more (mean / inter-ocular distance) are left out."""

    yaws: tuple[float, ...] = (20, 30, 40, 50, 60, 70, 80, 90)
    min_turn: float = 5.0
    jitter: float = 3.0
    pitch: float = 10.0
    max_fit_error: float = 0.08
    seed: int = 0
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if not self.yaws or any(not 0 <= y <= 90 for y in self.yaws):
            raise ConfigError(f"profiling yaws must be between 0 and 90 degrees, got {list(self.yaws)}")
        if self.jitter < 0 or self.pitch < 0 or self.max_fit_error <= 0:
            raise ConfigError("profiling jitter and pitch must be >= 0 and max_fit_error > 0")


def view_name(stem: str, target: float) -> str:
    """`<stem>_y+40`: the view's target |yaw| (the sign is always +; the manifest has the signed yaw)."""
    return f"{stem}_y{int(round(target)):+03d}"


def face_rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def plan_views(yaw: float, settings: ProfileSettings, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """(target, view yaw, pitch change) for each view a face of this yaw gets. The side is the
    face's own (a near-frontal face's is drawn at random)."""
    side = np.sign(yaw) if abs(yaw) >= 1.0 else (1.0 if rng.random() < 0.5 else -1.0)
    views = []
    for target in settings.yaws:
        jitter = rng.uniform(-settings.jitter, settings.jitter) if settings.jitter else 0.0
        pitch = rng.uniform(-settings.pitch, settings.pitch) if settings.pitch else 0.0
        if target < abs(yaw) + settings.min_turn:
            continue
        views.append((float(target), float(side * np.clip(target + jitter, 0.0, 90.0)), float(pitch)))
    return views


def profile_face(model: SurreyModel, image: np.ndarray, landmarks: np.ndarray, settings: ProfileSettings,
                 rng: np.random.Generator):
    """Fit and turn one face. Returns (fit, [(target, view yaw, view pitch, image, points)]);
    no views when the fit is worse than settings.max_fit_error."""
    h, w = image.shape[:2]
    fit = model.fit(landmarks, w, h)
    yaw0, pitch0, _ = fit.angles
    plan = plan_views(yaw0, settings, rng)
    if fit.error > settings.max_fit_error or not plan:
        return fit, []
    mesh = build_image_mesh(fit, (h, w))
    rig = rig_landmarks(fit, mesh, landmarks)
    views = []
    for target, yaw, dpitch in plan:
        turn = yaw - yaw0
        turned = mesh.turned(turn, dpitch)
        out, _ = warp(image, mesh, turned)
        points, _ = turned_landmarks(fit, mesh, rig, turned, turn, dpitch)
        views.append((target, yaw, pitch0 + dpitch, out, points))
    return fit, views


def _encode_jpeg(image: np.ndarray, quality: int, where: Path) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError(f"{where}: could not encode the image")
    return buf.tobytes()


def _identity(sample: FaceSample, root: Path) -> Path:
    """The face's image path relative to the dataset root (its name in the output)."""
    try:
        return sample.image_path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(sample.subset or "") / sample.image_path.name


def profile_dataset(samples: Sequence[FaceSample], root: str | Path, out: str | Path, model: SurreyModel,
                    settings: ProfileSettings = ProfileSettings(), progress: bool = True,
                    log: Callable[[str], None] = print) -> dict:
    """Profile every sample (68 iBUG points) into `out`; returns the counts (also in profile.json)."""
    root, out = Path(root), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings)
    records = out / RECORDS
    todo = []
    for s in samples:
        if len(s.landmarks) != 68:
            raise UserError(f"{s.source or s.image_path}: face profiling needs 68 iBUG points, got {len(s.landmarks)}")
        rel = _identity(s, root)
        if not (records / rel).with_suffix(".json").is_file():
            todo.append((s, rel))
    if len(todo) < len(samples):
        log(f"profile: {len(samples) - len(todo)} of {len(samples)} faces already done in {out}, resuming")
    for s, rel in tqdm(todo, desc="profile", unit="face", disable=not progress, dynamic_ncols=True):
        record = _profile_one(s, rel, out, model, settings)
        target = (records / rel).with_suffix(".json")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(target, record)
    return _finish(out, settings, log)


def _profile_one(sample: FaceSample, rel: Path, out: Path, model: SurreyModel, settings: ProfileSettings) -> dict:
    record = {"source": rel.as_posix()}
    try:
        image = read_image(sample.image_path, orient=False)
    except UserError as e:
        return {**record, "status": "left out", "reason": f"unreadable image: {e}"}
    rng = face_rng(settings.seed, rel.as_posix())
    fit, views = profile_face(model, image, sample.landmarks, settings, rng)
    yaw0, pitch0, _ = fit.angles
    record.update(yaw=round(yaw0, 2), pitch=round(pitch0, 2), fit_error=round(fit.error, 4))
    if fit.error > settings.max_fit_error:
        return {**record, "status": "left out",
                "reason": f"3D fit error {fit.error:.3f} > {settings.max_fit_error} of the inter-ocular distance"}
    if not views:
        return {**record, "status": "left out", "reason": f"already turned {abs(yaw0):.0f} deg: no target beyond it"}
    folder = out / rel.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for target, yaw, pitch, picture, points in views:
        name = view_name(rel.stem, target)
        atomic_write_bytes(folder / f"{name}.jpg", _encode_jpeg(picture, settings.jpeg_quality, folder / name))
        write_pts(folder / f"{name}.pts", points)
        written.append({"image": (rel.parent / f"{name}.jpg").as_posix(), "yaw": round(yaw, 2),
                        "pitch": round(pitch, 2)})
    return {**record, "status": "profiled", "views": written}


def _check_settings(out: Path, settings: ProfileSettings) -> None:
    """A resumed run must use the settings it started with (else its views would mix)."""
    meta = out / "profile.json"
    mine = asdict(settings)
    mine["yaws"] = list(mine["yaws"])
    if meta.is_file():
        theirs = json.loads(meta.read_text(encoding="utf-8")).get("settings")
        if theirs != mine:
            raise ConfigError(f"{out}: holds faces profiled with other settings ({theirs}); "
                              "use another output folder or delete this one")
    else:
        atomic_write_json(meta, {"settings": mine, "status": "running"})


def read_records(out: str | Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((Path(out) / RECORDS).rglob("*.json"))]


def _finish(out: Path, settings: ProfileSettings, log: Callable[[str], None]) -> dict:
    records = read_records(out)
    rows, left = [], []
    for r in records:
        if r["status"] != "profiled":
            left.append({"source": r["source"], "reason": r["reason"]})
            continue
        for v in r["views"]:
            rows.append({"image": v["image"], "source": r["source"], "source_yaw": r["yaw"],
                         "source_pitch": r["pitch"], "yaw": v["yaw"], "pitch": v["pitch"], "fit_error": r["fit_error"]})
    atomic_write_text(out / "manifest.csv", _csv(rows, MANIFEST_FIELDS))
    atomic_write_text(out / "left_out.csv", _csv(left, ("source", "reason")))
    bad_fit = sum("fit error" in x["reason"] for x in left)
    counts = {"faces": len(records), "profiled": len(records) - len(left), "left_out_fit": bad_fit,
              "left_out_other": len(left) - bad_fit, "images": len(rows)}
    settings_dict = asdict(settings)
    settings_dict["yaws"] = list(settings_dict["yaws"])
    atomic_write_json(out / "profile.json", {"settings": settings_dict, "status": "complete", "counts": counts})
    log(f"profile: {counts['profiled']} of {counts['faces']} faces turned into {counts['images']} images; "
        f"left out: {bad_fit} poor 3D fits, {counts['left_out_other']} others (listed in {out / 'left_out.csv'})")
    return counts


def _csv(rows: list[dict], fields: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def read_manifest(out: str | Path) -> list[dict]:
    """The manifest's rows, numbers as floats."""
    path = Path(out) / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest (is {out} a finished profiling output?)")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("source_yaw", "source_pitch", "yaw", "pitch", "fit_error"):
            r[k] = float(r[k])
    return rows
