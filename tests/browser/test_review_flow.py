"""The whole review in real Chromium, with a real worker and a real SMTP server on loopback.

alice's CI pushes a model and asks for production; bob (DevOps) requests changes and mentions
her; she answers in the conversation, her CI pushes a fixed version and asks again; bob and
carol (the app developer the policy also asks) approve; bob merges; carol's app resolves
production to the new version. Every e-mail went to the right person, exactly once.
"""

import json
import time

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from notifications.models import EmailStatus, OutboxEmail

from .. import mail, test_cli
from ..conftest import PASSWORD
from ..test_cli import push_iris
from ..workers import Worker

# Fixtures of those modules: the CLI with a user's token, a real SMTP server on loopback.
vetted_as = test_cli.vetted_as
smtp = mail.smtp
smtp_port = mail.smtp_port

pytestmark = [pytest.mark.browser, pytest.mark.worker]

POLICY = {
    "to_stage": "production",
    "required_approvals": 2,
    "required_roles": ["devops", "app_developer"],
    "checks": [{"kind": "metric_threshold", "metric": "accuracy", "op": ">=", "value": 0.9}],
}


def ci_push(vetted, folder, tmp_path, accuracy: float):
    metrics = tmp_path / f"metrics-{accuracy}.json"
    metrics.write_text(json.dumps({"accuracy": accuracy}))
    done = push_iris(vetted, folder, "--metrics", str(metrics), "--request", "production")
    assert done.returncode == 0, done.stderr
    return done


def wait_for_mail(mailbox, count: int, worker: Worker) -> None:
    deadline = time.monotonic() + 60
    while len(mailbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(mailbox.messages) >= count, "".join(worker.log[-40:])


def test_ci_push_review_with_changes_fix_two_approvals_merge_and_resolve(
    tab,
    people,
    vetted_as,
    smtp,
    smtp_port,
    sklearn_model_dir,
    copy_model_dir,
    tmp_path,
    api_as,
):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    mailbox = smtp.start()
    worker = Worker(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port), SITE_URL=tab.base_url)
    try:
        owner = api_as(alice)
        set_policy = owner.put("/api/v1/teams/fraud/policies/", POLICY, format="json")
        assert set_policy.status_code == 200, set_policy.content

        ci = vetted_as(alice)
        first = ci_push(ci, sklearn_model_dir, tmp_path, accuracy=0.85)
        assert "Opened request #1" in first.stderr

        tab.log_in("bob", PASSWORD)
        expect(tab.page.locator("#waiting")).to_contain_text("iris v1")
        tab.open("/requests/1/")
        expect(tab.page.locator("#status")).to_contain_text("accuracy")
        tab.page.get_by_label("Request changes").check()
        tab.page.get_by_label("Message").fill("Accuracy 0.85 is under the 0.9 the policy asks.")
        tab.page.get_by_role("button", name="Submit review").click()
        expect(tab.page.locator("#conversation")).to_contain_text("under the 0.9")
        tab.page.get_by_label("Comment on the request").fill(
            "@alice could you retrain on the March snapshot?"
        )
        tab.page.get_by_role("button", name="Comment", exact=True).click()
        expect(tab.page.locator("#conversation .mention")).to_have_text("@alice")
        tab.page.get_by_role("button", name="Log out").click()

        tab.log_in("alice", PASSWORD)
        expect(tab.page.locator("body")).to_contain_text("bob mentioned you")  # on her home
        tab.open("/requests/1/")
        reply = tab.page.get_by_label("Reply in the thread by bob")
        reply.fill("Retrained on March data: accuracy 0.97. Pushing v2.")
        tab.page.get_by_role("button", name="Reply", exact=True).click()
        expect(tab.page.locator("#conversation")).to_contain_text("accuracy 0.97")
        tab.page.get_by_role("button", name="Withdraw").click()
        expect(tab.page.locator(".messages")).to_contain_text("withdrawn")
        tab.page.get_by_role("button", name="Log out").click()

        retrained = copy_model_dir()
        (retrained / "training-notes.md").write_text("Retrained on the March snapshot.\n")
        second = ci_push(ci, retrained, tmp_path, accuracy=0.97)
        assert second.stdout == "2\n" and "Opened request #2" in second.stderr

        for reviewer in ("carol", "bob"):
            tab.log_in(reviewer, PASSWORD)
            tab.open("/requests/2/")
            tab.page.get_by_label("Approve").check()
            tab.page.get_by_role("button", name="Submit review").click()
            expect(tab.page.locator("#conversation")).to_contain_text("Approve")
            if reviewer == "carol":
                expect(tab.page.locator("#status")).to_contain_text("DevOps")
                tab.page.get_by_role("button", name="Log out").click()
        expect(tab.page.locator("#status")).to_contain_text("Ready to merge")
        tab.page.get_by_role("button", name="Merge: promote to production").click()
        expect(tab.page.locator(".messages")).to_contain_text("now in production")

        app = APIClient()
        app.credentials(HTTP_AUTHORIZATION=f"Bearer {carol_read_token(carol)}")
        resolved = app.get("/api/v1/models/iris/stages/production")
        assert resolved.status_code == 200 and resolved.json()["version"] == 2

        expected = OutboxEmail.objects.count()
        wait_for_mail(mailbox, expected, worker)
        time.sleep(2)  # anything sent twice would arrive now
    finally:
        worker.stop()

    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {EmailStatus.SENT}
    received = [(m["To"], m["Subject"].strip()) for m in mailbox.messages]
    assert len(received) == len(set(received)), f"someone got an e-mail twice: {received}"
    to = {person: [s for t, s in received if t == person.email] for person in (alice, bob, carol)}
    assert any("requested changes on your request #1" in s for s in to[alice]), to[alice]
    assert any("mentioned you" in s for s in to[alice]), to[alice]
    assert any("replied" in s for s in to[bob]), to[bob]
    assert any("approved your request #2" in s for s in to[alice]), to[alice]
    for reviewer in (bob, carol):
        for number in (1, 2):
            assert any(f"Review requested: iris v{number}" in s for s in to[reviewer]), to[reviewer]
    assert not any("Review requested" in s for s in to[alice])  # never of her own request
    assert {t for t, _ in received} <= {alice.email, bob.email, carol.email}
    tab.assert_stayed_local_and_quiet()


def carol_read_token(carol) -> str:
    from accounts import services as account_services

    _, token = account_services.create_token(user=carol, name="app", scopes=["read"])
    return token
