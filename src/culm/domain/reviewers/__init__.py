"""Default reviewer conditions and reviewer groups of projects and repositories."""
