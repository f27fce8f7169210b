"""Batch analysis of recorded calls: readers, per-call analyzer, engine, QA, repeats, hot spots, gaps."""
