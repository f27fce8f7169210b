"""Hotline training layer."""
