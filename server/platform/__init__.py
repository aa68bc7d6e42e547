"""The platform layer: shared infrastructure the feature apps use (Redis clients, throttling, storage) and
every measured bypass of a framework's internals. See ``README.md`` beside this file."""
