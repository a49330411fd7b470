"""`python -m deploy ...` is scripts/deploy."""
import sys

from deploy.run import main

sys.exit(main())
