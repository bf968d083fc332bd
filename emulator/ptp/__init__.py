"""Payter's OCPI peer: what the emulator knows of each CPO and the services behind its modules."""
