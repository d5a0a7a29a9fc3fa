"""Datasets, image reading and the crop/augmentation transforms (NumPy + OpenCV, no PyTorch)."""
