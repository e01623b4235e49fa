"""JSON models of the public HTTP API, one module per resource; shared shapes in ``common``."""
