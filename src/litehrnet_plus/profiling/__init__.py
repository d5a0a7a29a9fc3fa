"""Face profiling: training faces turned in 3D to larger yaw, the way 300W-LP was made from 300-W.

Each face's 68 points fit a 3D morphable model (the Surrey Face Model, `surrey.py`); the fitted
face and its surroundings become one textured mesh of the image (`image_mesh.py`), turned about
the head's centre and drawn again; the new landmarks follow the turned surface, with the jaw
points marched to the visible outline (`geometry.py`). `dataset.py` writes the turned faces as an
ordinary dataset in the 300-W layout with a manifest.

NumPy and OpenCV do the geometry and drawing; only the fit needs `eos-py` (the `train` extra).
"""
