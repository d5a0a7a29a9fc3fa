"""PyTorch models: Lite-HRNet, Lite-HRNet Plus, the paper's ablations and its comparators, behind one registry."""
from . import litehrnet  # noqa: F401  (registers the builders)
from . import dite_hrnet, hrnet, mobile_heatmap, pipnet, wing  # noqa: F401  (the comparators of Table 1)
from .flops import Complexity, count_complexity
from .litehrnet import LiteHRNet, LiteHRNetConfig
from .registry import create_model, list_models, register_model

__all__ = ["Complexity", "LiteHRNet", "LiteHRNetConfig", "count_complexity", "create_model",
           "list_models", "register_model"]
