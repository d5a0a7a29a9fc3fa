"""The training configs shipped in the package, one folder per purpose, each found by its name
(the file's stem, unique across folders): `train --config ship_litehrnet_plus_30m_300w`,
`base: _base_cpu_300w.yaml`. The names stay what the runs, the benchmarks and the docs call
them; the folder says what a config is for. Torch- and YAML-free: `configs` works on the
base install."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import ConfigError

CONFIGS_DIR = Path(__file__).parent / "configs"
# folder -> what its configs are for, in the order `litehrnet-plus configs` lists them
PURPOSES = {
    "ship": "the recipes of the shipped models (CPU budget)",
    "finetune": "fine-tunes of shipped models: colour robustness, turned heads",
    "paper": "the paper's tables on its own schedule (300-W and WFLW, BCE/MSE, ablations)",
    "compare": "the controlled comparison: every model on one 40-epoch 300-W recipe",
    "latency": "the latency-driven variants of the 10M (fewer, larger ops)",
    "video": "A/B runs on video frames (YouTube-Faces ytf-68)",
    "bases": "the bases the others inherit with `base:`",
}


@lru_cache(maxsize=1)
def shipped_configs() -> dict[str, Path]:
    """name -> file, for every shipped config; a name in two folders is a packaging error."""
    found: dict[str, Path] = {}
    for purpose in PURPOSES:
        for path in sorted((CONFIGS_DIR / purpose).glob("*.yaml")):
            if path.stem in found:
                raise ConfigError(f"shipped config {path.stem!r} is in both {found[path.stem].parent.name}/ "
                                  f"and {purpose}/")
            found[path.stem] = path
    return found


def shipped_config(name: str) -> Path | None:
    """The shipped config called `name` (with or without .yaml), or None."""
    return shipped_configs().get(name[:-5] if name.endswith(".yaml") else name)


def config_path(spec: str | Path) -> Path:
    """A config file: a path, or the name of a shipped config, so an installed package trains
    without a checkout."""
    path = Path(spec)
    if path.is_file():
        return path
    shipped = shipped_config(str(spec)) if "/" not in str(spec) else None
    if shipped is None:
        raise ConfigError(f"{spec}: no such config file, nor a shipped config (`litehrnet-plus configs` lists them)")
    return shipped
