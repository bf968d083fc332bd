"""pydantic models of the OCPI objects, per version where the shapes differ."""
