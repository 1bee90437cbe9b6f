"""Shared data pieces: benchmarks (registry, loaders, gold answers), training pools, prompt templates."""

