"""Settings → API tokens: list, create (plain text shown once) and revoke."""

from django.urls import reverse

from accounts import services as account_services
from accounts.models import ApiToken

from .page_factories import assert_strict_page

URL = reverse("accounts:tokens")


def test_it_lists_my_tokens_only(client, alice, bob):
    account_services.create_token(user=alice, name="ci-fraud", scopes=["read"])
    account_services.create_token(user=bob, name="bobs-token", scopes=["read"])
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "ci-fraud" in html and "bobs-token" not in html
    assert "no-store" in response["Cache-Control"]
    assert_strict_page(response)


def test_it_shows_a_new_token_once(client, alice):
    client.force_login(alice)
    data = {"name": "deploy", "scopes": ["read", "write"], "expires_in_days": "30"}
    response = client.post(URL, data)
    assert response.status_code == 200
    html = response.content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.scopes == ["read", "write"] and token.expires_at is not None
    plain = html.split('id="new-token" value="', 1)[1].split('"', 1)[0]
    assert account_services.authenticate_token(plain) == token
    assert plain not in client.get(URL).content.decode()


def test_it_explains_a_form_error(client, alice):
    client.force_login(alice)
    response = client.post(URL, {"name": "x", "scopes": ["admin"], "expires_in_days": "0"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Select a valid choice." in html
    assert "Ensure this value is greater than or equal to 1." in html
    assert not ApiToken.objects.exists()


def test_it_revokes_a_token(client, alice):
    token, plain = account_services.create_token(user=alice, name="old", scopes=["read"])
    client.force_login(alice)
    response = client.post(reverse("accounts:token_revoke", args=[token.id]))
    assert response.status_code == 302
    assert account_services.authenticate_token(plain) is None
    assert "Revoked" in client.get(URL).content.decode()


def test_it_cannot_revoke_someone_elses_token(client, alice, bob):
    token, plain = account_services.create_token(user=bob, name="bobs", scopes=["read"])
    client.force_login(alice)
    assert client.post(reverse("accounts:token_revoke", args=[token.id])).status_code == 404
    assert account_services.authenticate_token(plain) == token


def test_revoking_needs_a_post(client, alice):
    token, _ = account_services.create_token(user=alice, name="old", scopes=["read"])
    client.force_login(alice)
    assert client.get(reverse("accounts:token_revoke", args=[token.id])).status_code == 405
