"""One file per OCPI module the servers host."""
