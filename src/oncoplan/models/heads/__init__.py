"""oncoplan.models.heads."""
