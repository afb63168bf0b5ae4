"""oncoplan.explain."""
