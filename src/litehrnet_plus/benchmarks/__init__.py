"""Torch-free benchmarks: the network's latency against dlib's (`latency.py`) and the tracked
end-to-end path (`end_to_end.py`); the PyTorch side of `bench` is engine/bench.py."""
