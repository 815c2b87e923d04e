"""Benchmark library: datasets, extractors, metrics, DET plots, accuracy / speed / calibration runs."""
