"""The "masked" layout (the default) and its placement algebra: branches as padded tensors in a
tracked channel permutation, so no chunk, concat or shuffle is left in the graph."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from ...models.blocks import ConditionalChannelWeighting, SpatialWeighting, Stem
from ...models.fusion import ConvFusion, SCAFFusion
from ...models.heads import HRNetV2Head, IterativeHead, LiteHead, MRHead
from .folding import fold_fusion_paths, fold_sequence
from .ops import HeadForward, fusion_forward, Shape, global_pool
from .options import DeployOptions

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
        folded = fold_fusion_paths(fusion)
        self.paths = nn.ModuleList([
            nn.ModuleList([seq if j == i else place_sequence(seq, placements[j], placements[i], al)[0]
                           for j, (seq, _) in enumerate(row)])
            for i, row in enumerate(folded)])
        self.ks = [[k for _, k in row] for row in folded]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return fusion_forward(self.paths, xs, self.quirk,
                              lambda i, j, y, t: y + upsample_nearest(t, self.ks[i][j]))


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


class MaskedHead(HeadForward):
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
