"""oncoplan.models."""
