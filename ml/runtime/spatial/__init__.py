"""Spatial audio for augmented soundscapes (numpy only): geometry, cues, modes, adaptive mix,
the streaming renderer, and the server's artistic mix (reverb, onset allocation, loudness)."""
from .heading import HeadingReading, resolve_heading
from .modes import ListeningMode, Mode
from .renderer import RenderConfig, RenderStatus, SpatialRenderer
from .sources import VirtualSource

__all__ = ["HeadingReading", "ListeningMode", "Mode", "RenderConfig", "RenderStatus", "SpatialRenderer",
           "VirtualSource", "resolve_heading"]
