"""OCPI 2.1.1 / 2.2.1 / 2.3.0: transport, models, modules and the outbound client."""
