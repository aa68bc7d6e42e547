"""Federated learning: aggregation strategies (pure numpy), secure aggregation, differential
privacy, multi-teacher distillation and the offline simulation. See ``ml/federated/README.md``."""
