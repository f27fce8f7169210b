"""Hotline routers layer."""
