"""numpy-only code shared by the phone and the server (see DESIGN.md §1).

Nothing in this package may import torch, librosa, Django or Kivy.
"""
