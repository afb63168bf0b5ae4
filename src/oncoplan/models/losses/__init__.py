"""oncoplan.models.losses."""
