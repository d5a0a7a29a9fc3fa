"""The "split" layout: the network with static shapes and BN folded, keeping the channel
split/concat/shuffle of the original (NCHW-friendly runtimes; kept for the ablations)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from ...models.blocks import ConditionalChannelWeighting, CrossResolutionWeighting, SpatialWeighting, Stem
from ...models.fusion import ConvFusion, SCAFFusion
from ...models.heads import HRNetV2Head, IterativeHead, LiteHead, MRHead
from .folding import fold_fusion_paths, fold_sequence
from .ops import HeadForward, fusion_forward, Shape, add_upsampled, global_pool, interleave, mul_upsampled, shuffle_static
from .options import DeployOptions

# ----------------------------------------------------------------------------- blocks
class DeployStem(nn.Module):
    def __init__(self, stem: Stem, size: int, opts: DeployOptions) -> None:
        super().__init__()
        self.conv1 = fold_sequence(stem.conv1)
        c1 = stem.stem_channels
        self.half = c1 // 2
        self.branch1 = fold_sequence(stem.branch1)
        self.branch2 = fold_sequence(stem.expand_conv, stem.depthwise_conv, stem.linear_conv)
        self.ca = stem.branch1_channels
        self.cb = stem.branch2_channels
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


class DeployConvFusion(nn.Module):
    """Lite-HRNet's fusion (pw / bottleneck / group) with folded BN, the branch-0 doubling
    folded into the paths' last conv (exact: x2 in float), and broadcast nearest upsampling."""

    def __init__(self, fusion: ConvFusion, shapes: list[Shape], opts: DeployOptions) -> None:
        super().__init__()
        self.shapes = shapes
        self.quirk = fusion.double_branch0
        self.opts = opts
        folded = fold_fusion_paths(fusion)
        self.paths = nn.ModuleList([nn.ModuleList([seq for seq, _ in row]) for row in folded])
        self.ks = [[k for _, k in row] for row in folded]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        b = self.opts.broadcast_resize
        return fusion_forward(self.paths, xs, self.quirk,
                              lambda i, j, y, t: add_upsampled(y, t, self.ks[i][j], *self.shapes[i], b))


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


class DeployHead(HeadForward):
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
