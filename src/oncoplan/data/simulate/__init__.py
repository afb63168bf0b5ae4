"""oncoplan.data.simulate."""
