"""Hotline index layer."""
