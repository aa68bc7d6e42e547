"""Dawn Chorus Kivy field client. It imports ml.runtime, never torch or Django."""
