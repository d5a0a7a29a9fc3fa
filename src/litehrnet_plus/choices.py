"""The named choices that the command line, the configs and the API share, kept in one light
module (nothing heavy imported) so the command line can offer them when it builds its parser."""
from __future__ import annotations

#: dataset layouts `load_dataset` reads (docs/your_own_data.md)
DATASET_KINDS = ("300w", "wflw", "csv", "pts")
#: how a photo is searched for faces held sideways or upside down (inference/orientation.py)
ORIENTATIONS = ("auto", "upright", "all")
#: the torch-free runtimes a model runs on
RUNTIME_BACKENDS = ("onnxruntime", "litert")
#: what a landmarker may be asked to run on: a runtime, or "auto" (inference/runtime.py choose_backend)
BACKENDS = ("auto", *RUNTIME_BACKENDS)
