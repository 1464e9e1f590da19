"""Fetching: verified downloads, parallel transfers, encoder weights files; behind ``load(..., download=True)``."""
