"""Probe how fast a model starts to fit: a few hundred Adam steps on a fixed set of
un-augmented 300-W training crops, then the training loss and the share of landmarks whose
heatmap argmax lands on the target's peak pixel (on the first 64 of those crops).

It is how the BCE output-bias prior was found (docs/training.md): without it the Lite-HRNet
baseline's loss sits at the "all background" level after 200 steps.

    python tools/fit_probe.py --root ../shared/data/300w --steps 200 \\
        litehrnet_baseline:bce litehrnet_baseline:bce:prior litehrnet_baseline:mse litehrnet_plus_10m:bce
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from litehrnet_plus.codec import HeatmapCodec
from litehrnet_plus.data.formats import load_dataset
from litehrnet_plus.engine.dataset import LandmarkDataset
from litehrnet_plus.engine.losses import heatmap_loss
from litehrnet_plus.engine.train import set_output_prior
from litehrnet_plus.models import create_model
from litehrnet_plus.schemes import scheme_for


def probe(spec: str, x: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, codec: HeatmapCodec,
          steps: int, batch: int, lr: float, seed: int) -> dict:
    name, loss, *flags = spec.split(":")
    torch.manual_seed(seed)
    model = create_model(name, num_landmarks=target.shape[1], input_size=codec.input_size)
    if "prior" in flags:
        set_output_prior(model, codec)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses, tic = [], time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        value = heatmap_loss(loss, model(x[idx]), target[idx], weight[idx])
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    model.eval()
    with torch.no_grad():
        out = model(x[:64])
    hit = (out.flatten(2).argmax(-1) == target[:64].flatten(2).argmax(-1)).float().mean().item()
    return {"spec": spec, "loss_first10": float(np.mean(losses[:10])), "loss_last10": float(np.mean(losses[-10:])),
            "argmax_hit": round(hit, 4), "seconds": round(time.perf_counter() - tic, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("specs", nargs="+", help="MODEL:LOSS[:prior], e.g. litehrnet_baseline:bce:prior")
    ap.add_argument("--root", default="../shared/data/300w")
    ap.add_argument("--faces", type=int, default=128)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    codec = HeatmapCodec()
    samples = load_dataset("300w", args.root, "train")[:args.faces]
    ds = LandmarkDataset(samples, codec, scheme_for(samples[0].landmarks.shape[0]), augment=None)
    items = [ds[i] for i in range(len(ds))]
    x, target, weight = (torch.stack([it[k] for it in items]) for k in ("image", "target", "weight"))
    results = []
    for spec in args.specs:
        results.append(probe(spec, x, target, weight, codec, args.steps, args.batch, args.lr, args.seed))
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
