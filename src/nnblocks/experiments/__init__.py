"""Named, reproducible experiments (the book's chapters), built only from the public API of the rooms below."""
