"""Dawn Chorus Kivy field client (issue #7). It imports ml.runtime, never torch or Django."""
