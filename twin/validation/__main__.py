"""``python -m twin.validation``: run every reference case and write docs/validation.md."""

from twin.validation.report import main

raise SystemExit(main())
