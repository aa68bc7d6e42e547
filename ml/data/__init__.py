"""Fetching and preparing training data (xeno-canto downloads, manifests)."""
