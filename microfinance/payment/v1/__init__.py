"""Generated package (see proto/)."""
