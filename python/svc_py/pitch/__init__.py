"""Pitch-tracker networks users bring (RMVPE, FCPE), rebuilt from their checkpoints' layouts."""
