"""docs/deploy.md's "what it creates" tables are the manifest's (python -m deploy.table --write)."""
from deploy import table
from deploy.spec import load


def test_the_committed_tables_match_the_manifest():
    assert table.current() == table.section(load()), "run: PYTHONPATH=.:shared .venv/bin/python -m deploy.table --write"


def test_the_table_has_a_row_per_function_and_queue():
    text = table.render(load())
    spec = load()
    assert all(f"| `{f.name}` |" in text for f in spec.functions)
    assert all(f"| `{q.name}` |" in text for q in spec.queues)
