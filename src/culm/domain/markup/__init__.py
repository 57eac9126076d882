"""Markdown rendering for previews and README display."""
