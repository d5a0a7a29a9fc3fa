"""Which way up a photo is: the search over turned copies (`orientations`) and its rules.

Detectors look for upright faces, so a photo held sideways or upside down is searched in copies
turned by 90, 180 and 270 degrees; what they find is mapped back (roll.py) and fitted in the
photo itself (fitting.py). "all" searches every copy and keeps one detection per face; "upright"
only the photo as it is; "auto" (the default) searches the turned copies only where the upright
pass leaves a reason to: no face the model is sure of upright (`reason_to_look`), and then as
"all" does. A photo with one face upright and another sideways needs "all".
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..choices import ORIENTATIONS
from ..data.transforms import landmark_box
from ..errors import ConfigError
from .detectors import Detections, run_detector, suppress
from .face import Face
from .fitting import FacePipeline, Fit
from .roll import ALIGN_MIN_DEG, landmark_roll, map_back, snap_upright, turned, wrap_degrees

#: one face found in several turned copies: centres closer than this x the face size
SAME_FACE_DISTANCE = 0.5
#: quality at which a fit is more likely good than not: the bar a face seen only in a turned
#: copy of the photo must reach
TRUSTED_QUALITY = 0.5
#: "auto": an upright pass with a face of this quality (whose eye line agrees with its crop) needs
#: no turned copies. Chosen with tools/measure_orientation_rule.py on lfpw/testset (the counts per
#: bar are in benchmarks/orientation_rule*.json): with yuface, at 0.7 one photo turned by 90
#: degrees and one by 270 pass upright on sideways fits, at 0.8 (with SIDEWAYS_ROLL) none does,
#: and 4 of 224 upright photos are searched again (CenterFace: 1)
SURE_QUALITY = 0.8
#: "auto": a sure face this far on its side (degrees of roll) is still a reason to search the
#: turned copies. Detectors that return eyes for faces lying on their side (CenterFace does)
#: find them upright, but the crop turned by those eyes fits worse than the turned copy that
#: shows the face upright (the astronaut turned by 90 degrees: 3.3% against 0.4% of the eye
#: distance); yuface finds hardly any face past this roll upright
SIDEWAYS_ROLL = 60.0


def check_orientations(orientations: str) -> str:
    if orientations not in ORIENTATIONS:
        raise ConfigError(f"orientations must be one of {ORIENTATIONS}, got {orientations!r}")
    return orientations


def detect_faces(image: np.ndarray, detector: Callable[[np.ndarray], Detections], pipeline: FacePipeline,
                 orientations: str, floor: float, min_quality: float, max_faces: int | None) -> list[Face]:
    """A photo's faces (`FaceLandmarker.detect`'s work): the fits `find_faces` keeps, those of
    quality below `min_quality` dropped, the `max_faces` best by detector score, as `Face`s."""
    fits = find_faces(image, detector, pipeline, orientations, floor)
    if min_quality:
        fits = [f for f in fits if f.quality >= min_quality]
    return pipeline.faces(image.shape, fits[:max_faces])


def find_faces(image: np.ndarray, detector: Callable[[np.ndarray], Detections], pipeline: FacePipeline,
               orientations: str, floor: float = 0.0) -> list[Fit]:
    """The fits of the faces in a photo, highest detector score first (see the module doc);
    floor: the quality below which a detection is no face (it gives no reason to look)."""
    if check_orientations(orientations) == "all":
        return one_per_face(pipeline, _found(image, detector, pipeline, (0, 90, 180, 270)))
    found = _found(image, detector, pipeline, (0,))
    if orientations == "auto" and reason_to_look(pipeline, [f for f, _ in found], floor):
        # the photo may be held sideways or upside down: every copy, one fit per face
        return one_per_face(pipeline, found + _found(image, detector, pipeline, (90, 180, 270)))
    return [f for f, _ in found]


def sure(pipeline: FacePipeline, fit: Fit, bar: float = SURE_QUALITY) -> bool:
    """A fit the model is sure of: trusted (`trusted`: its eye line agrees with its crop) with a
    quality of SURE_QUALITY or more (without a quality fit: trusted by its peaks)."""
    return trusted(pipeline, fit) and (fit.quality is None or fit.quality >= bar)


def reason_to_look(pipeline: FacePipeline, upright: list[Fit], floor: float, bar: float = SURE_QUALITY) -> bool:
    """Whether the upright pass leaves a reason to search the turned copies: no face the model
    is sure of (a sideways face fitted upright gives a scrambled, doubtful fit, or none is
    detected), or the sure ones all lie on their side (`SIDEWAYS_ROLL`). A doubtful face beside
    a sure one is not a reason: crowds in the wild hold small, blurred faces that are upright
    (tools/measure_orientation_rule.py: searching for those cost 1.7x the upright time on
    wflw-partial photos). floor: detections below it are no faces."""
    faces = [f for f in upright if (f.quality is None or f.quality >= floor) and sure(pipeline, f, bar)]
    if not faces:
        return True
    rolls = landmark_roll(np.stack([f.landmarks for f in faces]), pipeline.scheme)
    return bool(np.all(np.abs(rolls) >= SIDEWAYS_ROLL))


def _found(image: np.ndarray, detector, pipeline: FacePipeline, turns: tuple[int, ...]) -> list[tuple[Fit, int]]:
    """Faces the detector finds in the photo turned by each of `turns` (degrees), fitted in the
    photo, each with the turn it was found in; by detector score."""
    found = []
    for k in turns:
        copy, back = turned(image, k)
        boxes, scores, keypoints = run_detector(detector, copy)
        boxes, rolls, _ = map_back(boxes, keypoints, back, k)
        # a face found in a turned copy is cropped turned, whether or not the pipeline aligns
        rolls = pipeline.crop_rolls(rolls) if k == 0 else snap_upright(rolls)
        found.append((boxes, scores, rolls, np.full(len(boxes), k)))
    boxes, scores, rolls, turns_ = (np.concatenate(x) for x in zip(*found))
    fits = pipeline.fit(image, boxes, rolls, scores)
    return sorted(zip(fits, (int(k) for k in turns_)), key=lambda fk: -fk[0].score)


def surety(fit: Fit) -> float:
    """How sure the model is of a fit: its quality (peaks and shape), or without a quality fit
    its mean peak score."""
    return fit.confidence if fit.quality is None else fit.quality


def trusted(pipeline: FacePipeline, fit: Fit) -> bool:
    """A fit to believe: sure (quality of TRUSTED_QUALITY or more, or without a quality fit a
    mean peak score at the lost-face threshold), and its eye line agrees with the roll its crop was
    turned by (a sideways face taken for an upright one gives scrambled landmarks)."""
    sure = (fit.confidence >= pipeline.confidence_threshold if fit.quality is None
            else fit.quality >= TRUSTED_QUALITY)
    roll = landmark_roll(fit.landmarks[None], pipeline.scheme)[0]
    return sure and abs(wrap_degrees(roll - fit.crop_roll)) < ALIGN_MIN_DEG


def one_per_face(pipeline: FacePipeline, found: list[tuple[Fit, int]]) -> list[Fit]:
    """Fits from several turns: one found only in a turned copy must convince the landmark model
    (`trusted`); then one per face, the one the model is surest of; by detector score."""
    fits = [f for f, k in found if k == 0 or trusted(pipeline, f)]
    if not fits:
        return []
    boxes = np.stack([landmark_box(f.landmarks) for f in fits])
    keep = suppress(boxes, np.array([surety(f) for f in fits]), centre_distance=SAME_FACE_DISTANCE)
    return sorted((fits[i] for i in keep), key=lambda f: -f.score)
