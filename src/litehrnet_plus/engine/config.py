"""Training configuration: a YAML file of four sections, checked strictly (unknown keys and
wrong types are errors naming the file and the key)."""
from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from ..errors import ConfigError


@dataclass
class DataSource:
    kind: str = "300w"                 # 300w | wflw | csv | pts
    root: str = "../shared/data/300w"
    subset: str | None = None


@dataclass
class DataConfig:
    kind: str = "300w"
    root: str = "../shared/data/300w"
    train: str = "train"               # split / folder(s) for training
    val: str | None = "lfpw/testset"   # held-out split for validation NME
    extra: list[DataSource] = field(default_factory=list)   # more training sources
    num_landmarks: int = 68
    crop_scale: float = 1.25           # crop side / longer side of the tight landmark box


@dataclass
class AugmentSection:
    flip_prob: float = 0.5
    scale_range: list[float] = field(default_factory=lambda: [0.75, 1.25])
    rotation_deg: float = 30.0
    rotation_prob: float = 1.0
    shift: float = 0.05
    color: float = 0.2


@dataclass
class CodecSection:
    input_size: int = 96
    stride: int = 4
    sigma: float = 1.0
    refine: str = "dark"


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
    augment: AugmentSection = field(default_factory=AugmentSection)
    codec: CodecSection = field(default_factory=CodecSection)
    train: TrainSection = field(default_factory=TrainSection)
    out: str = "runs/default"

    def to_dict(self) -> dict:
        return asdict(self)


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
    return cls(**kwargs)


def config_from_dict(data: dict, source: str = "config") -> TrainConfig:
    cfg = _build(TrainConfig, data, source)
    _validate(cfg, source)
    return cfg


def load_config(path: str | Path) -> TrainConfig:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})") from e
    return config_from_dict(data, str(p))


def _validate(cfg: TrainConfig, source: str) -> None:
    t = cfg.train
    if t.loss not in ("bce", "mse"):
        raise ConfigError(f"{source}: train.loss must be 'bce' or 'mse', got {t.loss!r}")
    if t.schedule not in ("step", "cosine"):
        raise ConfigError(f"{source}: train.schedule must be 'step' or 'cosine', got {t.schedule!r}")
    for name in ("lr", "batch_size", "epochs", "val_every"):
        if getattr(t, name) <= 0:
            raise ConfigError(f"{source}: train.{name} must be positive")
    if len(cfg.augment.scale_range) != 2:
        raise ConfigError(f"{source}: augment.scale_range must be [low, high]")
    if cfg.codec.refine not in ("dark", "quarter", "none"):
        raise ConfigError(f"{source}: codec.refine must be dark, quarter or none")
