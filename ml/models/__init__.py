"""torch models trained by ``python -m ml train`` and exported to the runtime format."""
