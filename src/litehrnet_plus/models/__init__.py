"""PyTorch models: Lite-HRNet, Lite-HRNet Plus and the paper's ablations, behind one registry."""
from . import litehrnet  # noqa: F401  (registers the builders)
from .flops import Complexity, count_complexity
from .litehrnet import LiteHRNet, LiteHRNetConfig
from .registry import create_model, list_models, register_model

__all__ = ["Complexity", "LiteHRNet", "LiteHRNetConfig", "count_complexity", "create_model",
           "list_models", "register_model"]
