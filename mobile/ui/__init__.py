"""Kivy screens of the field client. Layout lives in ``kv/``; behaviour in :mod:`mobile.controller`."""
