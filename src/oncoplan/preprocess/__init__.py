"""oncoplan.preprocess."""
