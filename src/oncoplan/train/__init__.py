"""oncoplan.train."""
