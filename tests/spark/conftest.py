import sys
from pathlib import Path

# the fixture builders of tests/dbt (the app week, the Stripe cases) are shared with the dbt tests
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dbt"))
