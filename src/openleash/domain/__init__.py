"""Plain data and errors shared by every layer. Imports nothing else of the project."""
