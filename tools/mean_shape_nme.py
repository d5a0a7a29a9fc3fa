"""NME of the mean-shape baseline (training mean shape placed in each test face's box).

Run: .venv/bin/python tools/mean_shape_nme.py [--root ../shared/data/300w] [--train train] [--test lfpw/testset]
"""
from __future__ import annotations

import argparse

from litehrnet_plus.data.formats import load_300w
from litehrnet_plus.evaluation import MeanShapePredictor, evaluate_samples
from litehrnet_plus.schemes import IBUG68


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--root", default="../shared/data/300w")
    p.add_argument("--train", default="train")
    p.add_argument("--test", default="lfpw/testset")
    a = p.parse_args()
    predictor = MeanShapePredictor(load_300w(a.root, a.train), 96)
    rep = evaluate_samples(predictor, load_300w(a.root, a.test), IBUG68, 96).all
    print(f"mean shape on {a.test}: NME {100 * rep['nme']:.2f}%  FR@0.10 {100 * rep['fr@0.10']:.2f}%  "
          f"AUC@0.10 {rep['auc@0.10']:.4f}  ({rep['faces']} faces)")


if __name__ == "__main__":
    main()
