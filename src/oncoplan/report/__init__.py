"""oncoplan.report."""
