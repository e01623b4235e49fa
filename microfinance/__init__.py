"""Generated gRPC contracts (do not edit: run `make protos`; sources in proto/)."""
