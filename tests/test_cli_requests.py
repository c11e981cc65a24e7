"""`vetted request`, `review`, `merge`, `requests` and `withdraw` as a CI job and reviewers run
them: the real command in a subprocess against a live server."""

import json

from registry.models import ModelVersion
from reviews import services
from reviews.models import PromotionRequest

from . import test_cli
from .page_factories import pushed_version, registered_model
from .test_cli import push_iris

vetted_as = test_cli.vetted_as  # the fixture: the CLI with a user's token


def test_push_can_open_a_production_request_right_after(vetted_as, alice, sklearn_model_dir):
    done = push_iris(vetted_as(alice), sklearn_model_dir, "--request", "production")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"  # the version, as push always prints
    assert "Opened request #1: needs 1 DevOps approval." in done.stderr
    request = PromotionRequest.objects.get()
    assert (request.version.number, request.to_stage, request.author) == (1, "production", alice)


def test_the_whole_review_from_the_command_line(vetted_as, alice, bob, sklearn_model_dir, tmp_path):
    ci = vetted_as(alice)
    assert push_iris(ci, sklearn_model_dir).returncode == 0

    opened = ci("request", "iris", "1", "--to", "production", "--message", "Ready")
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == "1\n"
    assert "needs 1 DevOps approval" in opened.stderr

    refused = vetted_as(bob)("review", "1", "--approve")
    assert refused.returncode == 4
    assert "review scope" in refused.stderr

    reviewer = vetted_as(bob, "read,write,review")
    waiting = reviewer("requests", "--awaiting-me")
    assert waiting.returncode == 0 and "needs 1 DevOps approval" in waiting.stdout
    not_ready = reviewer("merge", "1")
    assert not_ready.returncode == 4
    assert "cannot be merged yet: needs 1 DevOps approval" in not_ready.stderr

    approved = reviewer("review", "1", "--approve", "-m", "Ship it", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["missing"] == []

    merged = reviewer("merge", "1")
    assert merged.returncode == 0, merged.stderr
    assert "iris v1 is now in production" in merged.stderr
    pulled = vetted_as(bob, "read")(
        "pull", "iris", "--stage", "production", "-o", str(tmp_path / "m")
    )
    assert pulled.stdout == "1\n"


def test_an_author_withdraws_and_a_comment_needs_no_review_scope(
    vetted_as, alice, bob, sklearn_model_dir
):
    ci = vetted_as(alice)
    push_iris(ci, sklearn_model_dir)
    ci("request", "iris", "1", "--to", "staging")
    assert vetted_as(bob)("review", "1", "--comment", "-m", "Nice").returncode == 0
    assert vetted_as(bob)("withdraw", "1").returncode == 4
    withdrawn = ci("withdraw", "1")
    assert withdrawn.returncode == 0 and "Withdrew request #1." in withdrawn.stderr
    assert ci("requests").stdout.strip().splitlines() == ["#  MODEL  VERSION  TO  AUTHOR  MISSING"]


def test_requests_lists_every_page(vetted_as, alice, teams):
    model = registered_model(alice, teams["fraud"], "iris")
    for _ in range(26):
        pushed_version(alice, model)
    for version in ModelVersion.objects.select_related("model__team"):
        for stage in ("staging", "production"):
            services.open_request(actor=alice, version=version, to_stage=stage)

    listed = vetted_as(alice)("requests", "--mine")

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["#", "MODEL", "VERSION", "TO", "AUTHOR", "MISSING"]
    assert [int(line.split()[0]) for line in lines[1:]] == list(range(52, 0, -1))
    as_json = json.loads(vetted_as(alice)("requests", "--json").stdout)
    assert len(as_json) == 52 and as_json[-1]["number"] == 1
