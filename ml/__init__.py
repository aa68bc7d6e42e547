"""Dawn Chorus machine learning: training (torch, librosa) around a numpy-only runtime."""
