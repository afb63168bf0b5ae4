"""oncoplan.service."""
