"""Production starts from ALMA, not from the demo: the compose stack never loads the sample."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_production_stack_migrates_and_never_loads_the_sample_or_demo_accounts():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        command = str(service.get("command", ""))
        assert "load_sample" not in command, name
        assert "seed_demo" not in command, name
    assert "migrate" in compose["services"]["web"]["command"]


def test_the_readme_says_how_production_fills_the_mirror():
    readme = (ROOT / "README.md").read_text()
    assert "manage.py harvest_archive" in readme
    assert "## Harvesting ALMA" in readme
