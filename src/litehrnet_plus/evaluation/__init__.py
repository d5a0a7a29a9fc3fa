"""Benchmark evaluation without PyTorch: metrics (NME, failure rate, AUC), the cropping
protocol, the typed report and its CED plot. Any predictor with `predict_crops` works: ONNX
Runtime's `OnnxHeatmapModel` on the base install, `engine.evaluate.TorchPredictor` with PyTorch."""
from .metrics import NORMALISERS, auc, failure_rate, normalising_distance, per_face_nme, summarise
from .protocol import EvaluationReport, MeanShapePredictor, Predictor, evaluate_samples, predict_samples

__all__ = ["NORMALISERS", "auc", "failure_rate", "normalising_distance", "per_face_nme", "summarise",
           "EvaluationReport", "MeanShapePredictor", "Predictor", "evaluate_samples", "predict_samples"]
