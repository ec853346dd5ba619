"""The validation report: every reference case, run, and written to docs/validation.md
(``python -m twin.validation``)."""
