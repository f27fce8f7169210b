"""Hotline's shipped domain data (taxonomy, knowledge base, lexicon, generator banks, check sets).

Installed as package data of ``hotline.data`` and read with :mod:`importlib.resources`
(see :mod:`hotline.core.resources`); this file only makes the folder an importable package.
"""
