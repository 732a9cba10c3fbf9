"""Figures (matplotlib). Functions build and return a ``matplotlib.figure.Figure``
without pyplot, so they work headless and never open a window."""
