"""Repository content written through the REST API (file edits)."""
