"""Merge checks of pull requests (what vetoes a merge) and merging a pull request."""
