"""`python -m app …`: the operator's command line."""

from app.cli.main import main

raise SystemExit(main())
