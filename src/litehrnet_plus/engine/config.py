"""Training configuration: a YAML file of sections, checked strictly (unknown keys and wrong
types are errors naming the file and the key). The `augment` and `codec` sections are the
real `AugmentConfig` and `HeatmapCodec`, so their fields and checks exist once.

A config may start from another with `base: FILE.yaml` (a path relative to the config, or the
name of a shipped config), mmpose's `_base_` idea: the base's sections are merged key by key
with the config's own, which win; `base` chains, and a cycle is an error.
"""
from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from ..card import DEFAULT_CROP_SCALE
from ..choices import DATASET_KINDS
from ..config_files import shipped_config
from ..codec import HeatmapCodec
from ..data.transforms import AugmentConfig
from ..errors import ConfigError
from .losses import LOSSES
from .sampling import BALANCE_MODES, check_shares

SCHEDULES = ("step", "cosine")


@dataclass
class DataSource:
    kind: str = "300w"                 # 300w | wflw | csv | pts
    root: str = ""                     # required
    subset: str | None = None
    share: float | None = None         # fraction of each epoch drawn from this source (None: by its size)


@dataclass
class DataConfig:
    kind: str = "300w"
    root: str = ""                     # required: where the dataset is (no default location)
    train: str = "train"               # split / folder(s) for training
    val: str | None = "lfpw/testset"   # held-out split for validation NME
    extra: list[DataSource] = field(default_factory=list)   # more training sources
    num_landmarks: int = 68
    crop_scale: float = DEFAULT_CROP_SCALE   # crop side / longer side of the tight landmark box
    share: float | None = None         # fraction of each epoch drawn from `train` (None: by its size)


@dataclass
class TrainSection:
    loss: str = "bce"                  # bce | mse
    lr: float = 0.002
    batch_size: int = 64
    epochs: int = 210
    schedule: str = "step"             # step | cosine
    milestones: list[int] = field(default_factory=lambda: [170, 200])
    gamma: float = 0.1                 # step decay factor (paper text says 0.01; mmpose uses 0.1)
    warmup_epochs: int = 0
    weight_decay: float = 0.0
    seed: int = 0
    val_every: int = 5
    threads: int = 0                   # torch threads per process; 0: its share of the cores minus one
    channels_last: bool = False
    flip_test: bool = False            # validation with flip averaging
    balance: str = "none"              # none | yaw: draw faces so each band of |yaw| is seen equally (sampling.py)
    epoch_size: int = 0                # faces per epoch (0: the training set once); fixes the steps when data grows
    # BCE only: start the output bias at logit(mean target) (~ -4.5 at 24x24, sigma 1) instead
    # of 0 (sigmoid 0.5 everywhere). With Adam a bias moves ~lr per step, so from 0 the network
    # spends its first thousand steps learning "background"; litehrnet_baseline never left that
    # plateau in 30 epochs (docs/training.md). The shipped 10M/30M runs predate it (false).
    output_prior: bool = True


@dataclass
class ModelSection:
    name: str = "litehrnet_plus_10m"
    overrides: dict = field(default_factory=dict)
    init_from: str | None = None       # fine-tune: a shipped tag or a checkpoint .pt


@dataclass
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    codec: HeatmapCodec = field(default_factory=HeatmapCodec)
    train: TrainSection = field(default_factory=TrainSection)
    out: str = "runs/default"

    def to_dict(self) -> dict:
        """Plain YAML/JSON types (tuples as lists)."""
        def plain(v):
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v
        return plain(asdict(self))


def _check(value, tp, where: str):
    """Validate (and lightly coerce: int -> float) one value against a type annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _check(value, option, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: {value!r} is not of type {tp}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        (item,) = typing.get_args(tp)
        return [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        items = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise ConfigError(f"{where}: expected a list of {len(items)} values, got {value!r}")
        return tuple(_check(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, items)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if isinstance(tp, type) and hasattr(tp, "__dataclass_fields__"):
        return _build(tp, value, where)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool):
        if isinstance(value, bool) and tp is not bool:
            raise ConfigError(f"{where}: expected {tp.__name__}, got a boolean")
        if not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp}")


def _build(cls, data, where: str):
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            kwargs[f.name] = _check(data[f.name], hints[f.name], f"{where}.{f.name}" if where else f.name)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{where}: missing key {f.name!r}")
    try:
        return cls(**kwargs)
    except ValueError as e:             # the dataclass's own checks (HeatmapCodec, ...)
        raise ConfigError(f"{where}: {e}") from None


def config_from_dict(data: dict, source: str = "config") -> TrainConfig:
    cfg = _build(TrainConfig, data, source)
    _validate(cfg, source)
    return cfg


def load_config_data(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The YAML mapping of a config with its `base` chain merged in (see the module doc)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    if p.resolve() in _seen:
        raise ConfigError(f"{p}: `base` chain loops back to this file")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{p}: base must be a file name, got {base!r}")
    return merge(load_config_data(base_file(p, base), _seen + (p.resolve(),)), data)


def base_file(config: Path, base: str) -> Path:
    """Where `base: NAME` of `config` points: a file beside it, else a shipped config."""
    beside = config.parent / base
    return beside if beside.is_file() else shipped_config(base) or beside


def resolved_yaml(path: str | Path) -> str:
    """The config with its `base` chain merged in and every default filled, as YAML, with the
    chain it came from: what a reader needs without opening each base."""
    import yaml

    full = config_from_dict(load_config_data(path), str(path)).to_dict()   # checks the chain too
    chain, p = [], Path(path)
    while p is not None:
        chain.append(p.stem)
        base = (yaml.safe_load(p.read_text()) or {}).get("base")
        p = base_file(p, base) if base else None
    return f"# {' <- '.join(chain)}\n" + yaml.safe_dump(full, sort_keys=False)


def merge(base: dict, own: dict) -> dict:
    """`own` over `base`, section by section (mappings merge, anything else is replaced)."""
    out = dict(base)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "overrides":
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_sets(data: dict, sets: list[str]) -> dict:
    """`--set section.key=value` overrides (values parsed as YAML) on a config mapping."""
    import yaml

    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return data


def load_config(path: str | Path, sets: list[str] | None = None) -> TrainConfig:
    return config_from_dict(apply_sets(load_config_data(path), sets or []), str(path))


def _validate(cfg: TrainConfig, source: str) -> None:
    t = cfg.train
    if t.loss not in LOSSES:
        raise ConfigError(f"{source}: train.loss must be one of {LOSSES}, got {t.loss!r}")
    try:
        check_shares([cfg.data.share] + [e.share for e in cfg.data.extra])
    except ValueError as e:
        raise ConfigError(f"{source}: {e}") from None
    if t.balance not in BALANCE_MODES:
        raise ConfigError(f"{source}: train.balance must be one of {BALANCE_MODES}, got {t.balance!r}")
    if t.epoch_size < 0:
        raise ConfigError(f"{source}: train.epoch_size must be >= 0 (0: the whole training set), got {t.epoch_size}")
    if t.schedule not in SCHEDULES:
        raise ConfigError(f"{source}: train.schedule must be one of {SCHEDULES}, got {t.schedule!r}")
    for src in [cfg.data, *cfg.data.extra]:
        if src.kind not in DATASET_KINDS:
            raise ConfigError(f"{source}: data kind must be one of {DATASET_KINDS}, got {src.kind!r}")
    for name in ("lr", "batch_size", "epochs", "val_every"):
        if getattr(t, name) <= 0:
            raise ConfigError(f"{source}: train.{name} must be positive")
    lo, hi = cfg.augment.scale_range
    if not 0 < lo <= hi:
        raise ConfigError(f"{source}: augment.scale_range must be [low, high] with 0 < low <= high")
