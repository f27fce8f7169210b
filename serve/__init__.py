"""Hotline serve layer."""
