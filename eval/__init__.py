"""Hotline eval layer."""
