"""Hotline models layer."""
