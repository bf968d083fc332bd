"""Payter's fixed driver journey over OCPI, on the virtual terminal."""
