"""oncoplan.recommend."""
