"""Browser tests here use the ``browser`` fixture of ``tests/conftest.py`` (Debian chromium through Playwright,
no browser download), shared with ``tests/eval``'s report test."""
