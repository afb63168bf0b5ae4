"""oncoplan.store."""
