import gc

gc.disable()   # before the imports below: start-up makes only long-lived objects (see cli.main)

from llmsim.cli import main  # noqa: E402

raise SystemExit(main())
