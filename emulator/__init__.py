"""payter-emulator: Payter's platform (OCPI PTP peer, Cloud Payment Service) and terminal."""

__version__ = "0.1.0"
