"""The import rules of the package, checked on the source (every import, the lazy ones inside
functions included), so a new dependency across the boundary fails here, not on a user's
base install:

- torch-free: inference/, batch/, benchmarks/, evaluation/, data/, monitor/, profiling/ and the
  top-level modules below never import torch, engine/ or models/ (models are PyTorch modules);
- layers: data/, codec, schemes, card never import inference/, evaluation/ or cli; evaluation/
  never imports inference/; inference/ imports none of monitor/, batch/, benchmarks/, profiling/,
  cli; batch/ (the runner of many inputs) none of monitor/, benchmarks/, cluster/, profiling/, cli;
  cluster/ (the runner on Ray) none of monitor/, profiling/, cli; monitor/
  none of batch/, benchmarks/, profiling/, cli; schemes imports only errors, and errors nothing of
  the package;
- no duck-typed way round the layers: the runtime and the runner name nothing of the driver
  monitor (it plugs in from above as a stage), and one module of inference/ builds `Face`s (the
  tracker builds none itself).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "litehrnet_plus"
TORCH_FREE_PACKAGES = ("inference", "batch", "benchmarks", "cluster", "evaluation", "data", "monitor", "profiling")
# the package root is left out: its lazy `create_model` attribute is the documented way into
# models/ (timm's API) and imports nothing until it is used
TORCH_FREE_MODULES = ("codec", "codecs", "schemes", "card", "resolve", "hub", "fileio", "errors", "extras", "choices")
FORBIDDEN_FOR_TORCH_FREE = ("torch", "torchvision", "litehrnet_plus.engine", "litehrnet_plus.models")
LOWER_LAYERS = {"data": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli"),
                "codec": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli",
                          "litehrnet_plus.data"),
                "codecs": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli",
                           "litehrnet_plus.data"),
                "card": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli",
                         "litehrnet_plus.data"),
                "evaluation": ("litehrnet_plus.inference", "litehrnet_plus.cli"),
                # the runtime knows nothing built on it, nor the training-data tools
                "inference": ("litehrnet_plus.monitor", "litehrnet_plus.batch", "litehrnet_plus.benchmarks",
                              "litehrnet_plus.cluster", "litehrnet_plus.profiling", "litehrnet_plus.cli"),
                "batch": ("litehrnet_plus.monitor", "litehrnet_plus.benchmarks", "litehrnet_plus.cluster",
                          "litehrnet_plus.profiling", "litehrnet_plus.cli"),
                # the Ray runner is the batch runner spread out: it knows no monitor either
                "cluster": ("litehrnet_plus.monitor", "litehrnet_plus.profiling", "litehrnet_plus.cli"),
                "benchmarks": ("litehrnet_plus.monitor", "litehrnet_plus.batch", "litehrnet_plus.profiling",
                               "litehrnet_plus.cli"),
                "monitor": ("litehrnet_plus.batch", "litehrnet_plus.benchmarks", "litehrnet_plus.profiling",
                            "litehrnet_plus.cli")}
# what only the driver monitor has: a runtime or runner that names one of these is coupled to it
MONITOR_NAMES = {"monitor", "DriverMonitor", "DriverState", "DriverFace", "eyes", "mouth", "events", "perclos"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str | None = None) -> set[str]:
    """Absolute names of every module imported anywhere in the file (`module`: its dotted
    name, by default from its place in the package)."""
    tree = ast.parse(path.read_text(), str(path))
    here = (module or module_name(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)   # `from . import engine`
    return found


def files(kind: str) -> list[Path]:
    if kind in TORCH_FREE_MODULES:
        return [PKG / f"{kind}.py"]
    return sorted((PKG / kind).rglob("*.py"))


def violations(paths: list[Path], forbidden: tuple[str, ...], module: str | None = None) -> list[str]:
    bad = []
    for p in paths:
        for name in sorted(imports_of(p, module)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{p.name} imports {name}")
    return bad


@pytest.mark.parametrize("kind", TORCH_FREE_PACKAGES + TORCH_FREE_MODULES)
def test_torch_free_code_never_imports_torch_engine_or_models(kind):
    assert files(kind), kind
    assert violations(files(kind), FORBIDDEN_FOR_TORCH_FREE) == []


@pytest.mark.parametrize("kind", sorted(LOWER_LAYERS))
def test_lower_layers_do_not_import_upper_ones(kind):
    assert violations(files(kind), LOWER_LAYERS[kind]) == []


def identifiers(path: Path) -> set[str]:
    """Every name the code uses: variables, attributes, arguments, keywords, definitions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    return found


@pytest.mark.parametrize("kind", ["inference", "batch"])
def test_the_runtime_and_the_runner_name_nothing_of_the_monitor(kind):
    bad = {p.name: sorted(identifiers(p) & MONITOR_NAMES) for p in files(kind)}
    assert {k: v for k, v in bad.items() if v} == {}


def _builds_a_face(func: ast.expr) -> bool:
    """`Face(...)`, `x.Face(...)`, `replace(...)` or `dataclasses.replace(...)`."""
    if isinstance(func, ast.Name):
        return func.id in ("Face", "replace")
    return isinstance(func, ast.Attribute) and (func.attr == "Face" or (
        func.attr == "replace" and isinstance(func.value, ast.Name) and func.value.id == "dataclasses"))


def test_one_module_builds_faces():
    """`Face(...)` is called in inference/fitting.py alone: one constructor, one set of rules
    for the box, roll, quality and head pose, in photos and video alike."""
    builders = set()
    for p in files("inference") + files("batch"):
        calls = [n.func for n in ast.walk(ast.parse(p.read_text(), str(p))) if isinstance(n, ast.Call)]
        # a copy of a face by dataclasses.replace counts where the module knows the Face type
        if any(_builds_a_face(c) and (getattr(c, "id", getattr(c, "attr", "")) == "Face" or "Face" in identifiers(p))
               for c in calls):
            builders.add(p.name)
    assert builders == {"fitting.py"}


def test_the_scanner_sees_names_and_face_calls(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f(x, monitor=None):\n    return x.events\n")
    assert {"monitor", "events"} <= identifiers(probe)
    calls = [n.func for n in ast.walk(ast.parse("Face(1)\ndataclasses.replace(f)\nos.replace(a, b)\nm.Face()"))
             if isinstance(n, ast.Call)]
    assert [_builds_a_face(c) for c in calls] == [True, True, False, True]


def test_schemes_import_only_the_errors_and_errors_nothing():
    own = lambda p: {n for n in imports_of(p) if n.startswith("litehrnet_plus")}  # noqa: E731
    assert own(PKG / "schemes.py") <= {"litehrnet_plus.errors", "litehrnet_plus.errors.UnknownNameError"}
    assert own(PKG / "errors.py") == set()


def test_the_scanner_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: an import hidden in a function, relative or absolute, is found."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..engine import train\n    import torch.nn\n")
    found = imports_of(probe, "litehrnet_plus.inference.probe")
    assert "litehrnet_plus.engine" in found and "litehrnet_plus.engine.train" in found and "torch.nn" in found
    assert len(violations([probe], FORBIDDEN_FOR_TORCH_FREE, "litehrnet_plus.inference.probe")) >= 2
