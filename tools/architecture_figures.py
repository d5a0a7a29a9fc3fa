"""Figures behind docs/architecture.md: the paper's ambiguous claims, measured on our models.

Run: .venv/bin/python tools/architecture_figures.py   (K=98, 96x96, paper FLOPs convention)
"""
from __future__ import annotations

from litehrnet_plus.models import count_complexity, create_model


def flops(name: str, **kw) -> tuple[float, dict]:
    c = count_complexity(create_model(name, num_landmarks=98, **kw))
    return c.flops / 1e6, {k: v / 1e6 for k, v in c.flops_by_block.items()}, c.params / 1e6


def main() -> None:
    print("## Fusion: SCAF vs the PW-conv fusion it replaces (same network otherwise)")
    for name in ("litehrnet_plus_30m", "litehrnet_plus_10m"):
        _, scaf, _ = flops(name)
        _, pw, _ = flops(name, fusion="pw", double_branch0=False)
        _, pwq, _ = flops(name, fusion="pw", double_branch0=True)
        print(f"{name}: fusion {scaf['fusion']:.2f} MFLOPs (SCAF) vs {pw['fusion']:.2f} (PW) "
              f"-> {100 * (1 - scaf['fusion'] / pw['fusion']):.1f}% less; "
              f"vs {pwq['fusion']:.2f} (PW, official double branch 0) -> {100 * (1 - scaf['fusion'] / pwq['fusion']):.1f}% less")
    _, base, _ = flops("litehrnet_baseline")
    total, _, _ = flops("litehrnet_baseline")
    for name in ("litehrnet_plus_30m", "litehrnet_plus_10m"):
        _, scaf, _ = flops(name)
        print(f"{name} fusion vs Lite-HRNet baseline fusion ({base['fusion']:.2f}): "
              f"{100 * (1 - scaf['fusion'] / base['fusion']):.1f}% less")
    print(f"litehrnet_baseline: fusion is {base['fusion']:.2f} of {total:.2f} MFLOPs "
          f"({100 * base['fusion'] / total:.0f}%), largest block: {max(base, key=base.get)}")

    print("\n## Output modules on the same features (no iterative head), head block only")
    for name in ("litehrnet_plus_30m", "litehrnet_plus_10m", "litehrnet_baseline"):
        heads = {h: flops(name, head=h, iterative_head=False)[1]["head"] for h in ("lite", "mr", "hrnetv2")}
        print(f"{name}: lite {heads['lite']:.2f}, MR {heads['mr']:.2f}, HRNetV2 {heads['hrnetv2']:.2f} MFLOPs; "
              f"MR/lite = {heads['mr'] / heads['lite']:.2f}, MR/HRNetV2 = 1/{heads['hrnetv2'] / heads['mr']:.1f}")
        it = flops(name, head="lite", iterative_head=True)[1]["head"]
        print(f"   lite head with the official iterative head: {it:.2f} MFLOPs; MR/that = {heads['mr'] / it:.2f}")

    print("\n## SCAF attention: per branch pair vs shared per target, reduction ratio r")
    for name in ("litehrnet_plus_30m", "litehrnet_plus_10m"):
        for shared in (False, True):
            for r in (2, 4, 8, 16):
                f, _, p = flops(name, scaf_shared=shared, scaf_ratio=r)
                print(f"{name} shared={shared!s:<5} r={r:<2}: {p:.3f} M params, {f:.2f} MFLOPs")


if __name__ == "__main__":
    main()
