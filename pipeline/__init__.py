"""Hotline pipeline layer."""
