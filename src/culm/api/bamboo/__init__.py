"""The Bamboo-compatible REST API, served under /bamboo/rest/api/{latest,1.0}."""
