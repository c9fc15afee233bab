"""The main job: one foreground command running the whole service on this machine."""
