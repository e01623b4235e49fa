"""HTTP gateway: FastAPI in front of the gRPC services."""
