"""Deployment graph options: each rewrite can be switched off (the ablations in docs/speed.md)."""
from __future__ import annotations

from dataclasses import dataclass

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


