"""`python -m schedsight` is the `schedsight` command."""

from schedsight.cli import main

raise SystemExit(main())
