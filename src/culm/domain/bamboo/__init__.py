"""Bamboo-compatible CI: plans from Bamboo Specs (YAML version 2)."""
