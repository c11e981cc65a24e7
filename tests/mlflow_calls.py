"""Calling Vetted's /mlflow/ endpoints as MLflow's REST client does, through Django's test client.

In a test module: `@pytest.fixture def mlflow_as(client, token_for): return
mlflow_calls.caller(client, token_for)`.
"""

import json

MLFLOW_API = "/mlflow/api/2.0/mlflow"


def caller(client, token_for):
    """caller(...)(user)(method, "registered-models/get", **params) → (status, JSON): GET
    parameters in the query string (lists as repeated keys), any other method a JSON body."""

    def make(user, scopes="read,write", token=None):
        header = f"Bearer {token or token_for(user, scopes)}"

        def call(method, endpoint, **params):
            url = f"{MLFLOW_API}/{endpoint}"
            if method == "GET":
                response = client.get(url, params, HTTP_AUTHORIZATION=header)
            else:
                response = client.generic(
                    method,
                    url,
                    json.dumps(params),
                    content_type="application/json",
                    HTTP_AUTHORIZATION=header,
                )
            assert response["Content-Type"] == "application/json"
            return response.status_code, response.json()

        return call

    return make
