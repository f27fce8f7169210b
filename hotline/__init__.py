"""Hotline hotline layer."""
