"""Deployment export: the fastest equivalent ONNX graph we found for CPU inference with ONNX
Runtime (docs/speed.md has every figure and the commands behind them).

`export_deploy` writes a graph with the same input (`image`, dynamic batch) and output
(`heatmaps`) and the same "litehrnet_plus" metadata as `export.export_onnx` -- plus
{"graph": "deploy", "deploy": {format, transforms, options}} -- so the runtime loads either.
The network is first rewritten into an inference-only PyTorch module (`DeployNet`) for one
fixed input size, then traced. Each rewrite is an identity: in float64 the rewritten network
equals the original to 1e-13; in float32 the written graph is checked against the PyTorch
model (1e-4 on the heatmaps) before it is written.

What the default ("masked") graph does, and why. ONNX Runtime's level-"all" optimiser runs
convolutions, pools, nearest resizes and same-shape Mul/Add in a blocked NCHWc layout (16
channels per block here), where a 3x3 depthwise convolution is 5-20x faster than in NCHW, but
it reorders tensors back to NCHW before every op it has no NCHWc kernel for (Split, Slice,
Concat of unaligned channels, Reshape/Transpose, broadcasting Mul). The plain export is full
of those (channel split, shuffle, resize of attention maps, shape arithmetic), so:
- static spatial shapes, dynamic batch only: no Shape/Gather/Div arithmetic;
- BatchNorm folded into the convolutions (computed in float64);
- "masked" layout: a branch is one tensor of its channels padded to a multiple of 16 and
  kept in a tracked permutation. A conditional channel weighting block runs over all
  channels -- real weights on its processed half, identity on the passed half (gate
  sigmoid(40) == 1.0 exactly, identity depthwise kernel) -- so the chunk, the concat and the
  channel shuffle disappear: the shuffle only renames positions, absorbed by the weights of
  the next 1x1 convolutions;
- spatial-attention scales resized to the map size so the multiply has equal shapes (NCHWc)
  instead of broadcasting; symbolic shape inference names the batch dimension through the
  resizes, without which ORT cannot prove the shapes equal;
- SCAF: channel means as 1-output convolutions, the per-source attention FCs of a target
  merged (second layer a grouped conv), the sum over sources one MatMul, and the residual add
  written as identity-conv + add, which ORT fuses (with the ReLU) into an NCHWc convolution;
- the spatial-attention scale of a block is folded into the next block's cross-resolution
  scale at the lowest resolution (one full-resolution multiply less);
- Lite-HRNet's fusion (baseline): the branch-0 doubling folded into weights (x2 is exact).
Then ONNX Runtime's portable ("basic": standard ops only) offline optimisation and
onnxruntime.tools' symbolic shape inference write the file. The graph is built for ORT's
level "all" (what inference/runtime.py uses); at level "extended" it is 3x slower than at
"all" (no NCHWc).

`DeployOptions` switches each rewrite off (the ablations in docs/speed.md); layout="split"
is the NCHW-friendly alternative (static shapes, BN folded, split/concat kept).
"""
from __future__ import annotations

from .masked import CUT_BIAS, PASS_BIAS, Placement, place_conv, place_depthwise, place_sequence
from .net import DeployNet, deploy_model
from .options import DEPLOY_FORMAT, DeployOptions
from .write import check_inputs, export_deploy, max_abs_difference

__all__ = ["CUT_BIAS", "PASS_BIAS", "Placement", "place_conv", "place_depthwise", "place_sequence", "DeployNet",
           "deploy_model", "DEPLOY_FORMAT", "DeployOptions", "check_inputs", "export_deploy", "max_abs_difference"]
