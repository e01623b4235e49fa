"""Protobuf messages <-> the JSON models in ``api_gateway.schemas``, one module per resource."""
