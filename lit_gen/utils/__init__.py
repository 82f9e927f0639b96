"""Small helpers shared by models, callbacks and commands."""
