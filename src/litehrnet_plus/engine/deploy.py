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

import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..fileio import atomic_write_bytes
from ..models.blocks import (ConditionalChannelWeighting, CrossResolutionWeighting, SpatialWeighting,
                             Stem)
from ..models.fusion import ConvFusion, SCAFFusion
from ..models.heads import HRNetV2Head, IterativeHead, LiteHead, MRHead
from ..models.litehrnet import LiteHRNet
from ..card import ModelCard
from .export import HeatmapOutput, export_card, write_card

DEPLOY_FORMAT = "litehrnet_plus.deploy/1"


@dataclass(frozen=True)
class DeployOptions:
    """Switches of the individual rewrites (all on by default: each was measured faster).
    Turning one off gives the straightforward static-shape form of that part, which is how
    each rewrite's gain was measured."""

    layout: str = "masked"               # masked: full-width channel-wise blocks | split: chunk/concat
    channel_align: int = 16              # masked: pad branch channels to a multiple (NCHWc blocks)
    se_resize: bool = True               # masked: SE scale resized to HxW (same-shape Mul stays NCHWc)
    scaf_conv_add: bool = True           # masked: SCAF's residual add as identity-conv + sum (NCHWc)
    defer_se: bool = True                # masked: SE scale folded into the next block's CRW scale
    scaf_grouped_fc: bool = True         # masked: SCAF's second FC as a grouped conv (not block-diagonal)
    symbolic_shapes: bool = True         # batch dim named through Resize (lets NCHWc keep Mul/Add)
    # split layout only (measured slower than the plain static-shape forms under ONNX Runtime's
    # level "all", whose NCHWc kernels they keep from blocking; docs/speed.md):
    interleave_shuffle: bool = False     # shuffle as a Concat of 5-D views (else reshape/transpose)
    broadcast_resize: bool = False       # nearest upsample x multiply/add as 6-D broadcasts
    scaf_matmul: bool = False            # SCAF's sum over sources as one MatMul
    scaf_merge_fc: bool = False          # SCAF's per-source FCs of one target as 2 convs
    global_pool: bool = True             # GlobalAveragePool (else ReduceMean over H,W)
    onnx_optimize: str = "basic"         # ORT offline optimisation level: none | basic | extended

    def transforms(self) -> list[str]:
        """Names of the applied rewrites, recorded in the graph's metadata."""
        names = ["static_shapes", "bn_folding", "fusion_branch0_doubling_folded"]
        if self.layout == "masked":
            names += ["masked_layout_shuffle_split_folded_into_weights",
                      f"channels_padded_to_{self.channel_align}", "scaf_fc_merged", "scaf_matmul",
                      "channel_mean_as_conv"]
            flags = {"se_resize": "se_scale_resized_for_nchwc", "scaf_conv_add": "scaf_add_as_conv_sum",
                     "defer_se": "se_scale_deferred_into_next_crw", "scaf_grouped_fc": "scaf_fc2_grouped"}
        else:
            names += ["split_constant"]
            flags = {"interleave_shuffle": "shuffle_interleave_concat",
                     "broadcast_resize": "nearest_resize_as_broadcast",
                     "scaf_merge_fc": "scaf_fc_merged", "scaf_matmul": "scaf_matmul"}
        names += [label for key, label in flags.items() if getattr(self, key)]
        if self.symbolic_shapes:
            names.append("symbolic_batch_shapes")
        if self.onnx_optimize != "none":
            names.append(f"ort_offline_{self.onnx_optimize}")
        return names


# ----------------------------------------------------------------------------- folding
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> nn.Conv2d:
    """A conv with bias equal to conv followed by BN in eval mode (running statistics)."""
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=torch.float64)
    if bn is not None:
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
        w = w * scale.reshape(-1, 1, 1, 1)
        b = (b - bn.running_mean.detach().double()) * scale + bn.bias.detach().double()
    dtype = conv.weight.dtype   # folding in float64, stored in the model's precision
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, bias=True, dtype=dtype)
    with torch.no_grad():
        out.weight.copy_(w.to(dtype))
        out.bias.copy_(b.to(dtype))
    return out


def _flatten(modules) -> list[nn.Module]:
    out: list[nn.Module] = []
    for m in modules:
        if isinstance(m, nn.Sequential):
            out += _flatten(m)
        elif not isinstance(m, nn.Identity):
            out.append(m)
    return out


def fold_sequence(*modules: nn.Module) -> nn.Sequential:
    """Flatten nested Sequentials of Conv/BN/ReLU/Sigmoid/Upsample and fold each BN into the
    conv before it. Anything else is refused (the deploy graph must stay equivalent)."""
    flat = _flatten(modules)
    out: list[nn.Module] = []
    i = 0
    while i < len(flat):
        m = flat[i]
        if isinstance(m, nn.Conv2d):
            bn = flat[i + 1] if i + 1 < len(flat) and isinstance(flat[i + 1], nn.BatchNorm2d) else None
            out.append(fold_conv_bn(m, bn))
            i += 2 if bn is not None else 1
            continue
        if isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Upsample)):
            out.append(m)
        else:
            raise TypeError(f"deploy folding does not handle {type(m).__name__}")
        i += 1
    return nn.Sequential(*out)


def _scaled_last_conv(seq: nn.Sequential, factor: float) -> nn.Sequential:
    """seq with its last conv's weights and bias multiplied by `factor` (seq must end with a
    conv, i.e. be linear after it)."""
    last = seq[-1]
    if not isinstance(last, nn.Conv2d):
        raise TypeError("can only scale a path that ends with a convolution")
    with torch.no_grad():
        last.weight.mul_(factor)
        last.bias.mul_(factor)
    return seq


# ----------------------------------------------------------------------------- static-shape helpers
def interleave(a: torch.Tensor, b: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    """channel_shuffle(cat([a, b]), 2) for a, b of c channels each: one Concat of 5-D views."""
    return torch.cat([a.reshape(-1, c, 1, h, w), b.reshape(-1, c, 1, h, w)], dim=2).reshape(-1, 2 * c, h, w)


def shuffle_static(x: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    """channel_shuffle(x, 2) with constant shapes (reshape, transpose, reshape)."""
    return x.reshape(-1, 2, c // 2, h, w).transpose(1, 2).reshape(-1, c, h, w)


def mul_upsampled(x: torch.Tensor, a: torch.Tensor, k: int, c: int, h: int, w: int, broadcast: bool) -> torch.Tensor:
    """x * nearest_upsample(a, k) for x (B,c,h,w) and a (B,c or 1,h/k,w/k)."""
    if k == 1:
        return x * a
    if broadcast:
        ca = a.shape[1]
        return (x.reshape(-1, c, h // k, k, w // k, k) * a.reshape(-1, ca, h // k, 1, w // k, 1)).reshape(-1, c, h, w)
    return x * F.interpolate(a, scale_factor=float(k), mode="nearest")


def add_upsampled(x: torch.Tensor, a: torch.Tensor, k: int, c: int, h: int, w: int, broadcast: bool) -> torch.Tensor:
    """x + nearest_upsample(a, k) for x, a with c channels."""
    if k == 1:
        return x + a
    if broadcast:
        return (x.reshape(-1, c, h // k, k, w // k, k) + a.reshape(-1, c, h // k, 1, w // k, 1)).reshape(-1, c, h, w)
    return x + F.interpolate(a, scale_factor=float(k), mode="nearest")


def global_pool(x: torch.Tensor, use_gap: bool) -> torch.Tensor:
    return F.adaptive_avg_pool2d(x, 1) if use_gap else x.mean(dim=(2, 3), keepdim=True)


Shape = tuple[int, int, int]   # (channels, height, width) of one branch


# ----------------------------------------------------------------------------- blocks
class DeployStem(nn.Module):
    def __init__(self, stem: Stem, size: int, opts: DeployOptions) -> None:
        super().__init__()
        self.conv1 = fold_sequence(stem.conv1)
        c1 = stem.conv1[0].out_channels
        self.half = c1 // 2
        self.branch1 = fold_sequence(stem.branch1)
        self.branch2 = fold_sequence(stem.expand_conv, stem.depthwise_conv, stem.linear_conv)
        self.ca = stem.branch1[1][0].out_channels
        self.cb = stem.linear_conv[0].out_channels
        self.hw = size // 4
        self.opts = opts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv1(x).split([self.half, self.half], dim=1)
        a, b = self.branch1(x1), self.branch2(x2)
        if self.ca == self.cb and self.opts.interleave_shuffle:
            return interleave(a, b, self.ca, self.hw, self.hw)
        return shuffle_static(torch.cat([a, b], dim=1), self.ca + self.cb, self.hw, self.hw)


class DeploySE(nn.Module):
    """Spatial weighting: global pool, two 1x1 convs (ReLU, sigmoid), channel reweighting."""

    def __init__(self, sw: SpatialWeighting, opts: DeployOptions) -> None:
        super().__init__()
        self.fc = fold_sequence(sw.fc1, sw.fc2)
        self.gap = opts.global_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(global_pool(x, self.gap))


class DeployCRW(nn.Module):
    """Cross-resolution weighting with constant pool kernels and split sizes."""

    def __init__(self, crw: CrossResolutionWeighting, shapes: list[Shape], opts: DeployOptions) -> None:
        super().__init__()
        self.shapes = shapes
        self.low = shapes[-1][1]
        self.ks = [s[1] // self.low for s in shapes]
        self.fc = fold_sequence(crw.conv1, crw.conv2)
        self.broadcast = opts.broadcast_resize

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        pooled = [F.avg_pool2d(x, k, k) if k > 1 else x for x, k in zip(xs, self.ks)]
        weights = self.fc(torch.cat(pooled, dim=1)).split([s[0] for s in self.shapes], dim=1)
        return [mul_upsampled(x, a, k, c, h, w, self.broadcast)
                for x, a, k, (c, h, w) in zip(xs, weights, self.ks, self.shapes)]


class DeployCCW(nn.Module):
    def __init__(self, block: ConditionalChannelWeighting, shapes: list[Shape], opts: DeployOptions) -> None:
        super().__init__()
        self.shapes = shapes
        half = [(c // 2, h, w) for c, h, w in shapes]
        self.crw = DeployCRW(block.cross_resolution_weighting, half, opts)
        self.dw = nn.ModuleList([fold_sequence(m) for m in block.depthwise_convs])
        self.se = nn.ModuleList([DeploySE(m, opts) for m in block.spatial_weighting])
        self.opts = opts

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        parts = [x.split([c // 2, c // 2], dim=1) for x, (c, _, _) in zip(xs, self.shapes)]
        x2 = self.crw([p[1] for p in parts])
        x2 = [se(dw(s)) for s, dw, se in zip(x2, self.dw, self.se)]
        if self.opts.interleave_shuffle:
            return [interleave(p[0], s, c // 2, h, w) for p, s, (c, h, w) in zip(parts, x2, self.shapes)]
        return [shuffle_static(torch.cat([p[0], s], dim=1), c, h, w) for p, s, (c, h, w) in zip(parts, x2, self.shapes)]


class DeploySCAF(nn.Module):
    """SCAF fusion. For target i: y_i = relu(x_i + sum_j resize_i(mean_c(x_j)) * w_ij), with
    w_ij = sigmoid(fc2_ij(relu(fc1_ij(gap(x_i))))). Merged form: fc1 of all j as one conv,
    fc2 as one block-diagonal conv whose outputs are ordered (channel, source) so that the
    sum over j is a MatMul of (B,C_i,n-1) weights with the (B,n-1,h*w) stacked maps."""

    def __init__(self, fusion: SCAFFusion, shapes: list[Shape], opts: DeployOptions) -> None:
        super().__init__()
        self.shapes = shapes
        self.n = len(shapes)
        self.n_out = len(fusion.pools)
        self.opts = opts
        self.merged = nn.ModuleList()
        self.pairs = nn.ModuleList()
        for i in range(self.n_out):
            c = shapes[i][0]
            sources = [j for j in range(self.n) if j != i]
            attn = [fusion.attn[i] if fusion.shared else fusion.attn[i][j] for j in sources]
            if opts.scaf_merge_fc and sources:
                self.merged.append(self._merge(attn, c, channel_major=opts.scaf_matmul))
            else:
                self.pairs.append(nn.ModuleList([fold_sequence(a.fc1, a.fc2) for a in attn]))

    @staticmethod
    def _merge(attn: list[nn.Module], c: int, channel_major: bool) -> nn.Sequential:
        """fc1s stacked into one conv; fc2s into one block-diagonal conv. Output channel
        o = ch * m + s (channel-major, for the MatMul) or s * c + ch (source-major)."""
        m = len(attn)
        fc1 = [fold_sequence(a.fc1)[0] for a in attn]
        fc2 = [fold_sequence(a.fc2)[0] for a in attn]
        hid = [f.out_channels for f in fc1]
        dtype = fc1[0].weight.dtype
        conv1 = nn.Conv2d(c, sum(hid), 1, dtype=dtype)
        conv2 = nn.Conv2d(sum(hid), m * c, 1, dtype=dtype)
        w2 = torch.zeros(m * c, sum(hid), dtype=dtype)
        b2 = torch.zeros(m * c, dtype=dtype)
        start = 0
        for s, (f1, f2) in enumerate(zip(fc1, fc2)):
            rows = (torch.arange(c) * m + s) if channel_major else (s * c + torch.arange(c))
            w2[rows, start:start + hid[s]] = f2.weight.detach()[:, :, 0, 0]
            b2[rows] = f2.bias.detach()
            start += hid[s]
        with torch.no_grad():
            conv1.weight.copy_(torch.cat([f.weight.detach() for f in fc1]))
            conv1.bias.copy_(torch.cat([f.bias.detach() for f in fc1]))
            conv2.weight.copy_(w2[:, :, None, None])
            conv2.bias.copy_(b2)
        return nn.Sequential(conv1, nn.ReLU(), conv2, nn.Sigmoid())

    def _map(self, mean: torch.Tensor, j: int, i: int) -> torch.Tensor:
        """mean_c(x_j) (B,1,h_j,w_j) at branch i's resolution."""
        if j > i:
            return F.interpolate(mean, scale_factor=float(2 ** (j - i)), mode="nearest")
        if j < i:
            k = 2 ** (i - j)
            return F.avg_pool2d(mean, k, k)
        return mean

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        means = [x.mean(dim=1, keepdim=True) for x in xs]
        outs = []
        for i in range(self.n_out):
            c, h, w = self.shapes[i]
            sources = [j for j in range(self.n) if j != i]
            pooled = global_pool(xs[i], self.opts.global_pool)
            maps = [self._map(means[j], j, i) for j in sources]
            y = xs[i]
            if self.opts.scaf_merge_fc:
                wts = self.merged[i](pooled)
                m = len(sources)
                if self.opts.scaf_matmul and m > 1:
                    stack = torch.cat(maps, dim=1).reshape(-1, m, h * w)
                    y = y + torch.matmul(wts.reshape(-1, c, m), stack).reshape(-1, c, h, w)
                elif self.opts.scaf_matmul:
                    y = y + maps[0] * wts
                else:
                    for s, wt in enumerate(wts.split([c] * m, dim=1)):
                        y = y + maps[s] * wt
            else:
                for s, fc in enumerate(self.pairs[i]):
                    y = y + maps[s] * fc(pooled)
            outs.append(torch.relu(y))
        return outs


def _fold_fusion_paths(fusion: ConvFusion) -> list[list[tuple[nn.Module, int]]]:
    """Each path of a ConvFusion as (BN-folded sequence without its trailing upsample, upsample
    factor); identity on the diagonal. The official double branch-0 term becomes a x2 on the
    path's last conv, so it is computed once."""
    rows = []
    for i, row in enumerate(fusion.paths):
        out = []
        for j, path in enumerate(row):
            if j == i:
                out.append((nn.Identity(), 1))
                continue
            flat = _flatten([path])
            k = 1
            if flat and isinstance(flat[-1], nn.Upsample):
                k = int(flat[-1].scale_factor)
                flat = flat[:-1]
            seq = fold_sequence(*flat)
            if fusion.double_branch0 and j == 0 and i > 0:
                seq = _scaled_last_conv(seq, 2.0)
            out.append((seq, k))
        rows.append(out)
    return rows


class DeployConvFusion(nn.Module):
    """Lite-HRNet's fusion (pw / bottleneck / group) with folded BN, the branch-0 doubling
    folded into the paths' last conv (exact: x2 in float), and broadcast nearest upsampling."""

    def __init__(self, fusion: ConvFusion, shapes: list[Shape], opts: DeployOptions) -> None:
        super().__init__()
        self.shapes = shapes
        self.quirk = fusion.double_branch0
        self.opts = opts
        folded = _fold_fusion_paths(fusion)
        self.paths = nn.ModuleList([nn.ModuleList([seq for seq, _ in row]) for row in folded])
        self.ks = [[k for _, k in row] for row in folded]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(xs)
        b = self.opts.broadcast_resize
        outs = []
        y0 = None
        for i, row in enumerate(self.paths):
            c, h, w = self.shapes[i]
            if self.quirk and i == 0:
                y = xs[0] + xs[0]
            elif self.quirk:
                y = row[0](y0)   # 2 * path_i0(y0), the doubling folded into its weights
            else:
                y = xs[i]
            for j in range(n):
                if j == i or (self.quirk and j == 0):
                    if self.quirk and j == i and i > 0:
                        y = y + xs[j]
                    continue
                y = add_upsampled(y, row[j](xs[j]), self.ks[i][j], c, h, w, b)
            if i == 0:
                y0 = y
            outs.append(torch.relu(y))
        return outs


class DeployIterativeHead(nn.Module):
    def __init__(self, head: IterativeHead, shapes: list[Shape]) -> None:
        super().__init__()
        self.projects = nn.ModuleList([fold_sequence(p) for p in head.projects])
        self.sizes = [(h, w) for _, h, w in shapes]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys = []
        last = None
        sizes = self.sizes[::-1]
        for i, s in enumerate(xs[::-1]):
            if last is not None:
                s = s + F.interpolate(last, size=sizes[i], mode="bilinear", align_corners=True)
            last = self.projects[i](s)
            ys.append(last)
        return ys[::-1]


class DeployHead(nn.Module):
    """Lite, MR or HRNetV2 head with folded BN and constant resize factors."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        if isinstance(head, LiteHead):
            self.kind = "lite"
            self.convs = nn.ModuleList([fold_sequence(head.final)])
        elif isinstance(head, MRHead):
            self.kind = "mr"
            self.convs = nn.ModuleList([fold_sequence(c) for c in head.convs])
        elif isinstance(head, HRNetV2Head):
            self.kind = "hrnetv2"
            self.convs = nn.ModuleList([fold_sequence(head.fuse, head.final)])
        else:
            raise TypeError(f"deploy export does not handle head {type(head).__name__}")

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.kind == "lite":
            return self.convs[0](xs[0])
        if self.kind == "mr":
            out = self.convs[0](xs[0])
            for i in range(1, len(self.convs)):
                out = out + F.interpolate(self.convs[i](xs[i]), scale_factor=float(2 ** i), mode="bilinear",
                                          align_corners=False)
            return out
        ups = [xs[0]] + [F.interpolate(x, scale_factor=float(2 ** i), mode="bilinear", align_corners=False)
                         for i, x in enumerate(xs[1:], 1)]
        return self.convs[0](torch.cat(ups, dim=1))


# ----------------------------------------------------------------------------- masked layout
# In the "masked" layout every branch is one tensor of `cp` physical channels (its logical
# width padded to `channel_align`), and logical channel c lives at physical position pos[c].
# A conditional channel weighting block then needs no chunk, concat or shuffle: it runs over
# all channels, with real weights on the positions of its processed half and identity ones
# on the passed half (scale 1 = sigmoid(PASS_BIAS), an identity depthwise kernel), and the
# shuffle only renames positions for the next block. Every 1x1 convolution reads and writes
# any position layout, so the permutations cost nothing at run time. All main-path ops then
# have NCHWc kernels in ONNX Runtime (Conv, Mul/Add of equal shapes, pools, nearest Resize),
# so its layout optimiser keeps tensors blocked instead of reordering around every split.
PASS_BIAS = 40.0   # sigmoid(40) is exactly 1.0 in float32 (ONNX Runtime and PyTorch)
CUT_BIAS = -40.0   # sigmoid(-40) is 0.0 in ONNX Runtime, 4e-18 in PyTorch


def _aligned(c: int, align: int) -> int:
    return -(-c // align) * align


def _dense_weight(conv: nn.Conv2d) -> torch.Tensor:
    """A grouped conv's weight as the equivalent dense (cout, cin, k, k) weight."""
    w = conv.weight.detach()
    g = conv.groups
    if g == 1:
        return w
    cout, cin_g = w.shape[:2]
    dense = torch.zeros(cout, cin_g * g, *w.shape[2:], dtype=w.dtype)
    og = cout // g
    for i in range(g):
        dense[i * og:(i + 1) * og, i * cin_g:(i + 1) * cin_g] = w[i * og:(i + 1) * og]
    return dense


def place_conv(conv: nn.Conv2d, in_pos: list[int], cin_p: int, out_pos: list[int], cout_p: int,
               fill_bias: float = 0.0) -> nn.Conv2d:
    """`conv` (folded, any groups) as a dense conv from a cin_p-channel input holding its input
    channel c at in_pos[c] to a cout_p-channel output holding output o at out_pos[o]; the other
    outputs get zero weights and bias `fill_bias`."""
    w = _dense_weight(conv)
    dtype = w.dtype
    out = nn.Conv2d(cin_p, cout_p, conv.kernel_size, conv.stride, conv.padding, conv.dilation, 1, bias=True,
                    dtype=dtype)
    full = torch.zeros(cout_p, cin_p, *w.shape[2:], dtype=dtype)
    full[torch.tensor(out_pos)[:, None], torch.tensor(in_pos)[None, :]] = w
    bias = torch.full((cout_p,), fill_bias, dtype=dtype)
    bias[torch.tensor(out_pos)] = conv.bias.detach() if conv.bias is not None else 0.0
    with torch.no_grad():
        out.weight.copy_(full)
        out.bias.copy_(bias)
    return out


def place_depthwise(conv: nn.Conv2d, pos: list[int], cp: int, identity: list[int] = ()) -> nn.Conv2d:
    """A depthwise conv over C channels as one over cp channels (channel c at pos[c]); the
    `identity` positions get the identity kernel (pass-through), the rest zeros."""
    w = conv.weight.detach()
    k = w.shape[-1]
    if conv.groups != conv.in_channels or w.shape[1] != 1:
        raise TypeError("place_depthwise needs a depthwise convolution")
    out = nn.Conv2d(cp, cp, conv.kernel_size, conv.stride, conv.padding, conv.dilation, cp, bias=True, dtype=w.dtype)
    full = torch.zeros(cp, 1, *w.shape[2:], dtype=w.dtype)
    full[torch.tensor(pos)] = w
    bias = torch.zeros(cp, dtype=w.dtype)
    bias[torch.tensor(pos)] = conv.bias.detach()
    for p in identity:
        full[p, 0, k // 2, k // 2] = 1.0
    with torch.no_grad():
        out.weight.copy_(full)
        out.bias.copy_(bias)
    return out


def _is_depthwise(conv: nn.Conv2d) -> bool:
    return conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels


@dataclass
class Placement:
    """Where a branch's logical channels are: cp physical channels, channel c at pos[c]."""

    pos: list[int]
    cp: int

    @classmethod
    def identity(cls, c: int, align: int) -> "Placement":
        return cls(list(range(c)), _aligned(c, align))


def place_sequence(seq: nn.Sequential, src: Placement, dst: Placement | None,
                   align: int) -> tuple[nn.Sequential, Placement]:
    """A folded Conv/ReLU sequence re-laid for input placement `src`; the last conv writes
    placement `dst` (identity when None), inner convs identity placements."""
    mods: list[nn.Module] = []
    cur = src
    convs = [i for i, m in enumerate(seq) if isinstance(m, nn.Conv2d)]
    for i, m in enumerate(seq):
        if isinstance(m, nn.Conv2d):
            last = i == convs[-1]
            if _is_depthwise(m):
                mods.append(place_depthwise(m, cur.pos, cur.cp))
                if last and dst is not None and dst.pos != cur.pos:
                    raise ValueError("a depthwise conv cannot move channels")
                continue
            nxt = dst if (last and dst is not None) else Placement.identity(m.out_channels, align)
            mods.append(place_conv(m, cur.pos, cur.cp, nxt.pos, nxt.cp))
            cur = nxt
        elif isinstance(m, (nn.ReLU, nn.Sigmoid)):
            mods.append(m)
        else:
            raise TypeError(f"place_sequence does not handle {type(m).__name__}")
    return nn.Sequential(*mods), cur


def upsample_nearest(x: torch.Tensor, k: int) -> torch.Tensor:
    return x if k == 1 else F.interpolate(x, scale_factor=float(k), mode="nearest")


class MaskedStem(nn.Module):
    """Stem whose output is written straight into the shuffled order: the two halves' last
    1x1 convs write disjoint positions of one tensor and are summed (relu(a + 0) = relu(a))."""

    def __init__(self, stem: Stem, opts: DeployOptions) -> None:
        super().__init__()
        al = opts.channel_align
        conv1 = fold_sequence(stem.conv1)
        c1 = conv1[0].out_channels
        half = c1 // 2
        full = Placement.identity(c1, al)
        self.conv1, _ = place_sequence(conv1, Placement(list(range(3)), 3), full, al)
        b1 = fold_sequence(stem.branch1)            # dw s2 (on x1), 1x1 + ReLU
        b2 = fold_sequence(stem.expand_conv, stem.depthwise_conv, stem.linear_conv)
        ca, cb = b1[-2].out_channels, b2[-2].out_channels
        c = ca + cb
        # cat index q -> shuffled logical index j; logical == physical in the output
        shuffled = [(q % (c // 2)) * 2 + q // (c // 2) for q in range(c)]
        self.out = Placement.identity(c, al)
        x1 = Placement(list(range(half)), full.cp)
        x2 = Placement(list(range(half, c1)), full.cp)
        self.dw1 = place_depthwise(b1[0], x1.pos, x1.cp)
        self.pw1 = place_conv(b1[1], x1.pos, x1.cp, shuffled[:ca], self.out.cp)
        inner = nn.Sequential(*list(b2)[:-2])                  # expand (+ReLU), dw
        self.branch2, mid = place_sequence(inner, x2, None, al)
        self.pw2 = place_conv(b2[-2], mid.pos, mid.cp, shuffled[ca:], self.out.cp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(x)
        return torch.relu(self.pw1(self.dw1(y)) + self.pw2(self.branch2(y)))


class MaskedSE(nn.Module):
    def __init__(self, sw: SpatialWeighting, active: list[int], cp: int, hw: int, opts: DeployOptions) -> None:
        super().__init__()
        fc = fold_sequence(sw.fc1, sw.fc2)
        hid = fc[0].out_channels
        hp = Placement.identity(hid, opts.channel_align)
        self.fc1 = place_conv(fc[0], active, cp, hp.pos, hp.cp)
        self.fc2 = place_conv(fc[2], hp.pos, hp.cp, active, cp, fill_bias=PASS_BIAS)
        self.hw = hw
        self.resize = opts.se_resize and hw > 1
        self.gap = opts.global_pool

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(global_pool(x, self.gap)))))

    def apply(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return x * (upsample_nearest(s, self.hw) if self.resize else s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.apply(x, self.gate(x))


class MaskedCCW(nn.Module):
    """One conditional channel weighting block over full-width branches. `placements` are
    updated to the shuffled order (no data moves)."""

    def __init__(self, block: ConditionalChannelWeighting, shapes: list[Shape], placements: list[Placement],
                 opts: DeployOptions) -> None:
        super().__init__()
        crw = block.cross_resolution_weighting
        halves = [c // 2 for c, _, _ in shapes]
        active = [pl.pos[h:] for pl, h in zip(placements, halves)]
        passive = [pl.pos[:h] for pl, h in zip(placements, halves)]
        low = shapes[-1][1]
        self.low = low
        self.ks = [h // low for _, h, _ in shapes]
        self.defer = False   # set by DeployNet for blocks followed by another block of the module
        # conv1 over the concatenation of the pooled branches (physical offsets per branch)
        fc = fold_sequence(crw.conv1, crw.conv2)
        offsets = [sum(pl.cp for pl in placements[:i]) for i in range(len(placements))]
        in_pos = [off + p for off, act in zip(offsets, active) for p in act]
        hid = fc[0].out_channels
        hp = Placement.identity(hid, opts.channel_align)
        self.crw1 = place_conv(fc[0], in_pos, sum(pl.cp for pl in placements), hp.pos, hp.cp)
        starts = [sum(halves[:i]) for i in range(len(halves))]
        self.crw2 = nn.ModuleList()
        for i, pl in enumerate(placements):
            part = nn.Conv2d(hid, halves[i], 1, dtype=fc[2].weight.dtype)
            with torch.no_grad():
                part.weight.copy_(fc[2].weight[starts[i]:starts[i] + halves[i]])
                part.bias.copy_(fc[2].bias[starts[i]:starts[i] + halves[i]])
            self.crw2.append(place_conv(part, hp.pos, hp.cp, active[i], pl.cp, fill_bias=PASS_BIAS))
        self.dw = nn.ModuleList([
            place_depthwise(fold_sequence(dw)[0], act, pl.cp, identity=pas)
            for dw, act, pas, pl in zip(block.depthwise_convs, active, passive, placements)])
        self.se = nn.ModuleList([MaskedSE(sw, act, pl.cp, h, opts)
                                 for sw, act, pl, (_, h, _)
                                 in zip(block.spatial_weighting, active, placements, shapes)])
        # channel_shuffle(cat([x1, f]), 2): logical 2k <- x1[k], 2k+1 <- f[k]
        for pl, h in zip(placements, halves):
            pl.pos = [p for pair in zip(pl.pos[:h], pl.pos[h:]) for p in pair]

    def forward(self, xs: list[torch.Tensor], scales: list[torch.Tensor] | None = None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Branches -> (branches, None), or with defer=True (d, SE scales) with the scales
        not yet applied; a block given `scales` applies them at the lowest resolution:
        pool(d * s) = pool(d) * s and (d * s) * up(a) = d * up(a * s), so one full-resolution
        resize and multiply per branch disappear."""
        low = [upsample_nearest(sc, self.low) for sc in scales] if scales is not None else None
        pooled = [F.avg_pool2d(x, k, k) if k > 1 else x for x, k in zip(xs, self.ks)]
        if low is not None:
            pooled = [p * sc for p, sc in zip(pooled, low)]
        hidden = torch.relu(self.crw1(torch.cat(pooled, dim=1)))
        out, gates = [], []
        for i, (x, k, crw2, dw, se) in enumerate(zip(xs, self.ks, self.crw2, self.dw, self.se)):
            a = torch.sigmoid(crw2(hidden))
            if low is not None:
                a = a * low[i]
            d = dw(x * upsample_nearest(a, k))
            g = se.gate(d)
            if self.defer:
                out.append(d)
                gates.append(g)
            else:
                out.append(se.apply(d, g))
        return out, (gates if self.defer else None)


class MaskedSCAF(nn.Module):
    """SCAF over placed branches: channel means as 1-output convs, the attention FCs of a
    target merged (block-diagonal second layer, outputs ordered (position, source)), and the
    sum over sources as one MatMul; padding channels get zero weights."""

    def __init__(self, fusion: SCAFFusion, shapes: list[Shape], placements: list[Placement],
                 opts: DeployOptions) -> None:
        super().__init__()
        self.shapes = shapes
        self.n = len(shapes)
        self.n_out = len(fusion.pools)
        self.cps = [pl.cp for pl in placements]
        self.gap = opts.global_pool
        dtype = next(fusion.parameters()).dtype
        self.means = nn.ModuleList()
        for (c, _, _), pl in zip(shapes, placements):
            conv = nn.Conv2d(pl.cp, 1, 1, bias=False, dtype=dtype)
            w = torch.zeros(1, pl.cp, 1, 1, dtype=dtype)
            w[0, torch.tensor(pl.pos)] = 1.0 / c
            with torch.no_grad():
                conv.weight.copy_(w)
            self.means.append(conv)
        self.fc1 = nn.ModuleList()
        self.fc2 = nn.ModuleList()
        for i in range(self.n_out):
            c = shapes[i][0]
            pl = placements[i]
            sources = [j for j in range(self.n) if j != i]
            m = len(sources)
            attn = [fusion.attn[i] if fusion.shared else fusion.attn[i][j] for j in sources]
            f1 = [fold_sequence(a.fc1)[0] for a in attn]
            f2 = [fold_sequence(a.fc2)[0] for a in attn]
            hid = [f.out_channels for f in f1]
            if opts.scaf_grouped_fc:
                # fc2 as a grouped conv (one group per source, each group's hidden width
                # padded to `channel_align` so NCHWc takes it): weights m x smaller than the
                # block-diagonal form, outputs ordered (source, position)
                hpad = _aligned(max(hid), opts.channel_align)
                rows1 = [s * hpad + k for s in range(m) for k in range(hid[s])]
                merged1 = nn.Conv2d(c, m * hpad, 1, dtype=dtype)
                w1 = torch.zeros(m * hpad, c, 1, 1, dtype=dtype)
                b1 = torch.zeros(m * hpad, dtype=dtype)
                w1[torch.tensor(rows1)] = torch.cat([f.weight.detach() for f in f1])
                b1[torch.tensor(rows1)] = torch.cat([f.bias.detach() for f in f1])
                with torch.no_grad():
                    merged1.weight.copy_(w1)
                    merged1.bias.copy_(b1)
                self.fc1.append(place_conv(merged1, pl.pos, pl.cp, list(range(m * hpad)), m * hpad))
                conv2 = nn.Conv2d(m * hpad, m * pl.cp, 1, groups=m, dtype=dtype)
                w2 = torch.zeros(m * pl.cp, hpad, 1, 1, dtype=dtype)
                b2 = torch.full((m * pl.cp,), CUT_BIAS, dtype=dtype)
                pos = torch.tensor(pl.pos)
                for s, f in enumerate(f2):
                    w2[s * pl.cp + pos, :hid[s]] = f.weight.detach()
                    b2[s * pl.cp + pos] = f.bias.detach()
                with torch.no_grad():
                    conv2.weight.copy_(w2)
                    conv2.bias.copy_(b2)
                self.fc2.append(conv2)
                continue
            merged1 = nn.Conv2d(c, sum(hid), 1, dtype=dtype)
            with torch.no_grad():
                merged1.weight.copy_(torch.cat([f.weight.detach() for f in f1]))
                merged1.bias.copy_(torch.cat([f.bias.detach() for f in f1]))
            hp = Placement.identity(sum(hid), opts.channel_align)
            self.fc1.append(place_conv(merged1, pl.pos, pl.cp, hp.pos, hp.cp))
            # second layer: block-diagonal, output row (position * m + source)
            w2 = torch.zeros(pl.cp * m, hp.cp, dtype=dtype)
            b2 = torch.full((pl.cp * m,), CUT_BIAS, dtype=dtype)
            start = 0
            pos = torch.tensor(pl.pos)
            for s, f in enumerate(f2):
                rows = pos * m + s
                w2[rows[:, None], torch.arange(start, start + hid[s])[None, :]] = f.weight.detach()[:, :, 0, 0]
                b2[rows] = f.bias.detach()
                start += hid[s]
            conv2 = nn.Conv2d(hp.cp, pl.cp * m, 1, dtype=dtype)
            with torch.no_grad():
                conv2.weight.copy_(w2[:, :, None, None])
                conv2.bias.copy_(b2)
            self.fc2.append(conv2)
        self.grouped = opts.scaf_grouped_fc
        self.conv_add = opts.scaf_conv_add
        self.ident = nn.ModuleList()
        for pl in placements[:self.n_out]:
            ident = nn.Conv2d(pl.cp, pl.cp, 1, groups=pl.cp, dtype=dtype)
            with torch.no_grad():
                ident.weight.fill_(1.0)
                ident.bias.zero_()
            self.ident.append(ident)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        means = [conv(x) for conv, x in zip(self.means, xs)]
        outs = []
        for i in range(self.n_out):
            _, h, w = self.shapes[i]
            cp = self.cps[i]
            sources = [j for j in range(self.n) if j != i]
            m = len(sources)
            maps = [upsample_nearest(means[j], 2 ** (j - i)) if j > i else F.avg_pool2d(means[j], 2 ** (i - j))
                    for j in sources]
            wts = torch.sigmoid(self.fc2[i](torch.relu(self.fc1[i](global_pool(xs[i], self.gap)))))
            if m == 1:
                extra = maps[0] * wts
            else:
                # (B,C,m) weights: from (source, position) order a transpose, which ONNX
                # Runtime folds into the MatMul (FusedMatMul transA)
                wm = wts.reshape(-1, m, cp).transpose(1, 2) if self.grouped else wts.reshape(-1, cp, m)
                extra = torch.matmul(wm, torch.cat(maps, dim=1).reshape(-1, m, h * w))
                extra = extra.reshape(-1, cp, h, w)
            if self.conv_add:
                # identity depthwise 1x1 conv: exact, and lets ORT fuse the add and the ReLU
                # into an NCHWc convolution, so x stays blocked
                outs.append(torch.relu(self.ident[i](extra) + xs[i]))
            else:
                outs.append(torch.relu(xs[i] + extra))
        return outs


class MaskedConvFusion(nn.Module):
    """Lite-HRNet's fusion over placed branches: every path's last conv writes the target's
    placement; nearest upsampling stays a Resize (NCHWc has a kernel for it)."""

    def __init__(self, fusion: ConvFusion, placements: list[Placement], opts: DeployOptions) -> None:
        super().__init__()
        self.quirk = fusion.double_branch0
        al = opts.channel_align
        folded = _fold_fusion_paths(fusion)
        self.paths = nn.ModuleList([
            nn.ModuleList([seq if j == i else place_sequence(seq, placements[j], placements[i], al)[0]
                           for j, (seq, _) in enumerate(row)])
            for i, row in enumerate(folded)])
        self.ks = [[k for _, k in row] for row in folded]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        n = len(xs)
        outs = []
        y0 = xs[0]
        for i, row in enumerate(self.paths):
            if self.quirk and i == 0:
                y = xs[0] + xs[0]
            elif self.quirk:
                y = row[0](y0)
            else:
                y = xs[i]
            for j in range(n):
                if j == i or (self.quirk and j == 0):
                    if self.quirk and j == i and i > 0:
                        y = y + xs[j]
                    continue
                y = y + upsample_nearest(row[j](xs[j]), self.ks[i][j])
            if i == 0:
                y0 = y
            outs.append(torch.relu(y))
        return outs


class MaskedIterativeHead(nn.Module):
    """IterativeHead over placed branches: each projection writes the placement of the branch
    it is added to next."""

    def __init__(self, head: IterativeHead, placements: list[Placement], shapes: list[Shape],
                 opts: DeployOptions) -> None:
        super().__init__()
        n = len(placements)
        rev = placements[::-1]
        self.sizes = [(h, w) for _, h, w in shapes][::-1]
        self.projects = nn.ModuleList()
        self.out_placements: list[Placement] = []
        for r, proj in enumerate(head.projects):
            dst = rev[r + 1] if r < n - 1 else None
            seq, pl = place_sequence(fold_sequence(proj), rev[r], dst, opts.channel_align)
            self.projects.append(seq)
            self.out_placements.append(pl)
        self.out_placements = self.out_placements[::-1]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys = []
        last = None
        for i, s in enumerate(xs[::-1]):
            if last is not None:
                s = s + F.interpolate(last, size=self.sizes[i], mode="bilinear", align_corners=True)
            last = self.projects[i](s)
            ys.append(last)
        return ys[::-1]


class MaskedHead(nn.Module):
    def __init__(self, head: nn.Module, placements: list[Placement], opts: DeployOptions) -> None:
        super().__init__()
        k = head.final.out_channels if hasattr(head, "final") else head.convs[0].out_channels
        out = Placement(list(range(k)), k)
        if isinstance(head, LiteHead):
            self.kind = "lite"
            self.convs = nn.ModuleList([place_sequence(fold_sequence(head.final), placements[0], out,
                                                       opts.channel_align)[0]])
        elif isinstance(head, MRHead):
            self.kind = "mr"
            self.convs = nn.ModuleList([place_sequence(fold_sequence(c), pl, out, opts.channel_align)[0]
                                        for c, pl in zip(head.convs, placements)])
        elif isinstance(head, HRNetV2Head):
            self.kind = "hrnetv2"
            offsets = [sum(pl.cp for pl in placements[:i]) for i in range(len(placements))]
            cat = Placement([off + p for off, pl in zip(offsets, placements) for p in pl.pos],
                            sum(pl.cp for pl in placements))
            self.convs = nn.ModuleList([place_sequence(fold_sequence(head.fuse, head.final), cat, out,
                                                       opts.channel_align)[0]])
        else:
            raise TypeError(f"deploy export does not handle head {type(head).__name__}")

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        if self.kind == "lite":
            return self.convs[0](xs[0])
        if self.kind == "mr":
            out = self.convs[0](xs[0])
            for i in range(1, len(self.convs)):
                out = out + F.interpolate(self.convs[i](xs[i]), scale_factor=float(2 ** i), mode="bilinear",
                                          align_corners=False)
            return out
        ups = [xs[0]] + [F.interpolate(x, scale_factor=float(2 ** i), mode="bilinear", align_corners=False)
                         for i, x in enumerate(xs[1:], 1)]
        return self.convs[0](torch.cat(ups, dim=1))


class DeployNet(nn.Module):
    """Inference-only equivalent of a LiteHRNet at one fixed input size: image (B,3,S,S) ->
    heatmap logits (B,K,S/4,S/4)."""

    def __init__(self, model: LiteHRNet, input_size: int | None = None, opts: DeployOptions | None = None) -> None:
        super().__init__()
        cfg = model.cfg
        self.cfg = cfg
        self.opts = opts = opts or DeployOptions()
        size = int(input_size or cfg.input_size)
        if size % 32:
            raise ValueError(f"input size must be a multiple of 32, got {size}")
        self.input_size = size
        base = size // 4

        def shapes_of(widths) -> list[Shape]:
            return [(int(c), base >> i, base >> i) for i, c in enumerate(widths)]

        model = model.eval()
        if opts.layout not in ("masked", "split"):
            raise ValueError(f"layout must be 'masked' or 'split', got {opts.layout!r}")
        if opts.layout == "masked":
            self._build_masked(model, shapes_of, opts)
        else:
            self._build_split(model, shapes_of, opts)

    def _build_split(self, model: LiteHRNet, shapes_of, opts: DeployOptions) -> None:
        cfg = self.cfg
        self.stem = DeployStem(model.stem, self.input_size, opts)
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        for t, stage in zip(model.transitions, model.stages):
            self.transitions.append(nn.ModuleList([
                nn.Identity() if isinstance(m, nn.Identity) else fold_sequence(m) for m in t]))
            mods = nn.ModuleList()
            for sm in stage:
                shapes = shapes_of(cfg.widths[:len(t)])
                blocks = nn.ModuleList([DeployCCW(b, shapes, opts) for b in sm.ccw.blocks])
                if isinstance(sm.fusion, SCAFFusion):
                    fusion: nn.Module = DeploySCAF(sm.fusion, shapes, opts)
                elif isinstance(sm.fusion, ConvFusion):
                    fusion = DeployConvFusion(sm.fusion, shapes, opts)
                else:
                    raise TypeError(f"deploy export does not handle fusion {type(sm.fusion).__name__}")
                mods.append(nn.ModuleList([blocks, fusion]))
            self.stages.append(mods)
        self.iterative = (DeployIterativeHead(model.iterative, shapes_of(cfg.widths))
                          if model.iterative is not None else None)
        self.head = DeployHead(model.head)

    def _build_masked(self, model: LiteHRNet, shapes_of, opts: DeployOptions) -> None:
        cfg = self.cfg
        al = opts.channel_align
        self.stem = MaskedStem(model.stem, opts)
        placements = [self.stem.out]
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        for t, stage in zip(model.transitions, model.stages):
            layers = nn.ModuleList()
            new: list[Placement] = []
            for i, m in enumerate(t):
                src = placements[i] if i < len(placements) else placements[-1]
                if isinstance(m, nn.Identity):
                    layers.append(nn.Identity())
                    new.append(Placement(list(src.pos), src.cp))
                else:
                    seq, pl = place_sequence(fold_sequence(m), src, None, al)
                    layers.append(seq)
                    new.append(pl)
            placements = new
            self.transitions.append(layers)
            shapes = shapes_of(cfg.widths[:len(t)])
            mods = nn.ModuleList()
            for sm in stage:
                blocks = nn.ModuleList([MaskedCCW(b, shapes, placements, opts) for b in sm.ccw.blocks])
                for block in list(blocks)[:-1]:
                    block.defer = opts.defer_se
                if isinstance(sm.fusion, SCAFFusion):
                    fusion: nn.Module = MaskedSCAF(sm.fusion, shapes, placements, opts)
                elif isinstance(sm.fusion, ConvFusion):
                    fusion = MaskedConvFusion(sm.fusion, placements, opts)
                else:
                    raise TypeError(f"deploy export does not handle fusion {type(sm.fusion).__name__}")
                mods.append(nn.ModuleList([blocks, fusion]))
                # a last fusion may produce fewer branches (HRNet's single-output module)
                n_out = len(fusion.paths) if isinstance(fusion, MaskedConvFusion) else fusion.n_out
                placements = placements[:n_out]
            self.stages.append(mods)
        self.iterative = None
        if model.iterative is not None:
            self.iterative = MaskedIterativeHead(model.iterative, placements, shapes_of(cfg.widths), opts)
            placements = self.iterative.out_placements
        self.head = MaskedHead(model.head, placements, opts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = [self.stem(x)]
        for transition, stage in zip(self.transitions, self.stages):
            xs = [t(ys[i] if i < len(ys) else ys[-1]) for i, t in enumerate(transition)]
            for blocks, fusion in stage:
                scales = None
                for block in blocks:
                    if isinstance(block, MaskedCCW):
                        xs, scales = block(xs, scales)
                    else:
                        xs = block(xs)
                xs = fusion(xs)
            ys = xs
        if self.iterative is not None:
            ys = self.iterative(ys)
        return self.head(ys)


def deploy_model(model: nn.Module, input_size: int | None = None, opts: DeployOptions | None = None) -> DeployNet:
    """The inference-only rewrite of `model` (a LiteHRNet); the original is left untouched."""
    if not isinstance(model, LiteHRNet):
        raise TypeError(f"deploy export needs a LiteHRNet, got {type(model).__name__}")
    with torch.no_grad():
        return DeployNet(model, input_size, opts).eval()


# ----------------------------------------------------------------------------- ONNX
@contextmanager
def _quiet_torch():
    """One PyTorch thread and flushed denormals while tracing / computing references: on a
    busy machine OpenMP threads spin waiting for each other (a batch-2 forward took 3-9 s
    with 2 threads beside two training jobs, 22 ms with one), and the registered init
    (weights N(0, 0.001)) makes activations denormal."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    denormal = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if denormal:
            torch.set_flush_denormal(False)


def _ort_optimize(src: Path, dst: Path, level: str) -> None:
    """ONNX Runtime's offline optimisation at a portable level (basic: standard ONNX ops only)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
    opts.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])


def export_deploy(model: nn.Module, path: str | os.PathLike, *, card: ModelCard,
                  input_size: int | None = None, opset: int = 17, options: DeployOptions | None = None,
                  check: bool = True, atol: float = 1e-4) -> Path:
    """Write the deployment graph of `model` to `path` (atomically), carrying `card` with
    graph "deploy" and extra {"deploy": {format, transforms, options}}.

    check=True compares the written graph (ONNX Runtime) with the PyTorch model on random
    and image-like inputs and raises if any heatmap differs by more than `atol`."""
    import onnx

    opts = options or DeployOptions()
    if opts.onnx_optimize not in ("none", "basic", "extended"):
        raise ValueError(f"onnx_optimize must be none, basic or extended, got {opts.onnx_optimize!r}")
    card = export_card(model, card, "deploy", input_size,
                       deploy={"format": DEPLOY_FORMAT, "transforms": opts.transforms(), "options": asdict(opts)})
    size, activation = card.input_size, card.activation
    net = deploy_model(model, size, opts)
    wrapped = HeatmapOutput(net, activation).eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        with _quiet_torch(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapped, (torch.rand(2, 3, size, size),), str(raw), input_names=["image"],
                              output_names=["heatmaps"],
                              dynamic_axes={"image": {0: "batch"}, "heatmaps": {0: "batch"}},
                              opset_version=opset, dynamo=False, do_constant_folding=True)
        proto = onnx.shape_inference.infer_shapes(onnx.load(str(raw)))
        if opts.onnx_optimize != "none":
            inferred = Path(tmp) / "inferred.onnx"
            onnx.save(proto, str(inferred))
            optimized = Path(tmp) / "optimized.onnx"
            _ort_optimize(inferred, optimized, opts.onnx_optimize)
            proto = onnx.load(str(optimized))
        if opts.symbolic_shapes:
            from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
            proto = SymbolicShapeInference.infer_shapes(proto, auto_merge=True)
    write_card(proto, card)
    data = proto.SerializeToString()
    if check:
        err = max_abs_difference(model, data, activation, size)
        if err > atol:
            raise RuntimeError(f"deployment graph differs from the PyTorch model by {err:.3g} > {atol:g}")
    atomic_write_bytes(path, data)
    return path


def check_inputs(size: int, batch: int = 3, seed: int = 0) -> torch.Tensor:
    """Seeded uniform random images. (Smooth synthetic patterns were tried too: on a
    half-trained 30M checkpoint they are ill-conditioned -- the original network's own float32
    result is 2e-3 away from its float64 one -- so they cannot separate a wrong rewrite from
    rounding; tests add real face crops.)"""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g)


def max_abs_difference(model: nn.Module, onnx_model: bytes | str | os.PathLike, activation: str = "sigmoid",
                       size: int | None = None, inputs: torch.Tensor | None = None) -> float:
    """Largest |ONNX Runtime output - PyTorch output| over the check inputs."""
    import onnxruntime as ort

    size = int(size or model.cfg.input_size)
    x = check_inputs(size) if inputs is None else inputs
    with _quiet_torch(), torch.no_grad():
        ref = HeatmapOutput(model, activation).eval()(x).numpy()
    src = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"image": x.numpy()})[0]
    return float(abs(out - ref).max())
