"""Fuzzing of twin's inputs: seeded mutations, special files, and a judge of the answers."""
