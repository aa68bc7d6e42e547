"""Teachers for distillation: BirdNET V2.4 (optional extra) and the project's own students."""
