"""Fetching: verified downloads from the course's mirrors, parallel transfers, encoder weights files.

A learner can skip this sub-package: ``segutils.data.load(..., download=True)`` calls it,
as ``notebooks/01_data.ipynb`` shows.
"""
