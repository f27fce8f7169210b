"""Benchmarks: speed and load beside peers, public Chinese datasets, encoder comparison."""
