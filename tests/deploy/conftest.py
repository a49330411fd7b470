"""The deploy against the fake Google APIs: real gcloud, real scripts/deploy, one project per session.

gcloud costs about a CPU-second per call, so the expensive runs are session fixtures that later
ones build on, in the order a team would live them: a plan and a first deploy on an empty project,
the rest once the secrets have values, a no-change deploy, a plan of trigger changes, a
one-function change, and a rollback. Each fixture keeps the requests of its own run.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "manifests"))

from deploy_support import PROJECT, SECRET_VALUES, Project, Run, fake_port  # noqa: E402
from fakes.google_api import FakeGoogleApis  # noqa: E402


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    fake = FakeGoogleApis(fake_port(), project=PROJECT).start()
    try:
        yield Project(fake, tmp_path_factory.mktemp("gcloud-home"))
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def first_plan(project) -> Run:
    """--plan on an empty project."""
    return project.run("deploy", "--plan", manifest="with_schedule")


@pytest.fixture(scope="session")
def first_deploy(project, first_plan) -> Run:
    """The first deploy creates the secrets empty and deploys what needs none of them (exit 3)."""
    return project.run("deploy", manifest="with_schedule")


@pytest.fixture(scope="session")
def full_deploy(project, first_deploy) -> Run:
    """After the operator gave every secret a value, the rest of the functions go out."""
    assert first_deploy.returncode == 3, first_deploy.output
    for name, value in SECRET_VALUES.items():
        project.fake.add_secret_version(name, value)
    run = project.run("deploy", manifest="with_schedule")
    assert run.returncode == 0, run.output
    return run


@pytest.fixture(scope="session")
def deployed(first_deploy, full_deploy) -> Run:
    """Both runs that took the empty project to the whole manifest, as one."""
    return Run(full_deploy.returncode, first_deploy.output + full_deploy.output, first_deploy.calls + full_deploy.calls)


@pytest.fixture(scope="session")
def unchanged_deploy(full_deploy, project) -> Run:
    return project.run("deploy", manifest="with_schedule")


@pytest.fixture(scope="session")
def trigger_plan(unchanged_deploy, project) -> Run:
    return project.run("deploy", "--plan", manifest="retuned_triggers")


@pytest.fixture(scope="session")
def one_function_deploy(trigger_plan, project) -> Run:
    run = project.run("deploy", manifest="tuned")
    assert run.returncode == 0, run.output
    return run


@pytest.fixture(scope="session")
def rollback_plan(one_function_deploy, project) -> Run:
    return project.run("rollback", "--plan")


@pytest.fixture(scope="session")
def rollback(rollback_plan, project) -> Run:
    run = project.run("rollback")
    assert run.returncode == 0, run.output
    return run
