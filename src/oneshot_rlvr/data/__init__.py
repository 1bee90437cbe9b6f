"""Shared data pieces: benchmarks (registry, loaders, gold answers)."""
