"""oncoplan.cli."""
