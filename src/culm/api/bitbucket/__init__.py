"""The Bitbucket Data Center REST API: one module per resource group of the reference spec.

Each module exposes `router` with full paths under `/rest/...`; `1.0` is aliased to `latest` by
middleware, so routes are declared once with `latest`.
"""

A = "/rest/api/latest"
