"""oncoplan.evaluate."""
