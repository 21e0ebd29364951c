"""The local API authorizes as the deployed one would, for each AuthMode of template.yaml.

IAM (default): SigV4 signatures are recomputed with the local principals' secrets and refused with API
Gateway's messages (sagedrop_local/sigv4.py lists their sources: re:Post "api-gateway-iam-sigv4-mismatch",
aws-amplify/aws-sdk-android#253 for "Signature expired", Kong/insomnia#830 for the scope messages);
the predictor principal (PredictorPolicy) may predict and read, not stop or start (AdminPolicy).
Cognito: moto issues the ID tokens; the admin group is checked by the predict function.
API key: kept for compatibility; metering adds the key on top of IAM.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.credentials import Credentials

from sagedrop_client.api import Api, ApiError
from sagedrop_local.sigv4 import AuthFailure
from sagedrop_local.stack import LocalStack
from tests.support import signed

pytestmark = [pytest.mark.localstack, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture(scope="module")
def iam() -> Any:
    stack = LocalStack(stack="sagedrop-auth", api_port=0, endpoint_delay=0.1, log=lambda line: None)
    stack.start()
    yield stack
    stack.stop()


def test_both_principals_may_read_and_only_the_admin_may_stop_or_start(iam):
    for principal in ("predictor", "admin"):
        assert signed.call(iam, "GET", "/models", principal=principal) == (200, {"models": []})
        status, answer = signed.call(iam, "GET", "/models/ghost", principal=principal)
        assert status == 404 and answer["error"]["code"] == "model_not_found"  # reached the function
    status, answer = signed.call(
        iam, "POST", "/models/ghost/predictions", b'{"instances": [[1]]}', "application/json", principal="predictor"
    )
    assert status == 404, answer  # the predictor policy lets predictions through to the function
    for action in ("stop", "start"):
        status, answer = signed.call(iam, "POST", f"/models/ghost/{action}", principal="predictor")
        assert status == 403
        message = answer["error"]["message"]
        assert message.startswith("User: arn:aws:iam::123456789012:user/sagedrop-local-predictor is not authorized")
        resource = f"arn:aws:execute-api:us-east-1:123456789012:{iam.auth.api_id}/v1/POST/models/ghost/{action}"
        assert f"execute-api:Invoke on resource: {resource}" in message
        status, answer = signed.call(iam, "POST", f"/models/ghost/{action}", principal="admin")
        assert status == 404 and answer["error"]["code"] == "model_not_found"


def test_unsigned_requests_get_missing_authentication_token(iam):
    for method, path in (("GET", "/models"), ("POST", "/models/x/stop"), ("POST", "/models/x/predictions")):
        status, answer = signed.call(iam, method, path, principal=None)
        assert (status, answer["error"]["message"]) == (403, "Missing Authentication Token")


def test_signatures_for_another_region_or_service_are_refused(iam):
    status, answer = signed.call(iam, "GET", "/models", region="eu-west-1")
    assert status == 403
    assert answer["error"]["message"] == "Credential should be scoped to a valid region, not 'eu-west-1'. "
    keys = iam.credentials("admin")
    api = Api(iam.api_url, credentials=Credentials(keys["access_key"], keys["secret_key"]), region="us-east-1")
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=iam.api_url + "/models", headers={"Accept": "application/json"})
    SigV4Auth(Credentials(keys["access_key"], keys["secret_key"]), "lambda", "us-east-1").add_auth(request)
    status, answer = signed.call(iam, "GET", "/models", principal=None, headers=dict(request.headers.items()))
    assert status == 403
    assert answer["error"]["message"] == "Credential should be scoped to correct service: 'execute-api'. "
    assert api.request("GET", "/models") == {"models": []}


def test_a_wrong_secret_or_an_unknown_key_is_refused(iam):
    status, answer = signed.call(iam, "GET", "/models", secret="not-the-secret")
    assert status == 403
    assert answer["error"]["message"].startswith("The request signature we calculated does not match the signature")
    assert "The Canonical String for this request should have been\n'GET\n/v1/models\n" in answer["error"]["message"]
    api = Api(iam.api_url, credentials=Credentials("AKIAUNKNOWNUNKNOWN00", "x"), region="us-east-1")
    with pytest.raises(ApiError) as refused:
        api.request("GET", "/models")
    assert refused.value.status == 403
    assert refused.value.message == "The security token included in the request is invalid."


def test_a_signature_older_or_newer_than_five_minutes_is_refused(iam, monkeypatch):
    import botocore.auth

    for shift, prefix in (
        (-timedelta(minutes=6), "Signature expired: "),
        (timedelta(minutes=6), "Signature not yet current: "),
    ):
        signed_at = datetime.now(UTC) + shift
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda at=signed_at: at.replace(tzinfo=None))
        status, answer = signed.call(iam, "GET", "/models")
        assert status == 403
        message = answer["error"]["message"]
        assert message.startswith(prefix + signed_at.strftime("%Y%m%dT%H%M%SZ")), message
        assert message.endswith(" - 5 min.)" if shift.total_seconds() < 0 else " + 5 min.)")
    monkeypatch.undo()
    signed_at = datetime.now(UTC) - timedelta(minutes=4)  # inside the window
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at.replace(tzinfo=None))
    assert signed.call(iam, "GET", "/models")[0] == 200


def test_a_tampered_body_breaks_the_signature(iam):
    keys = iam.credentials("admin")
    from sagedrop_client.api import sign

    url = iam.api_url + "/models/x/predictions"
    headers = sign(
        "POST",
        url,
        {"Content-Type": "text/csv"},
        b"1,2,3",
        Credentials(keys["access_key"], keys["secret_key"]),
        "us-east-1",
    )
    status, answer = signed.call(
        iam, "POST", "/models/x/predictions", b"9,9,9", "text/csv", principal=None, headers=headers
    )
    assert status == 403 and "does not match" in answer["error"]["message"]


def test_the_function_sees_and_records_the_caller(iam):
    """The registry's stopped_by / started_by come from the request context the API filled in."""
    from tests.localstack.test_local_stack import blobs, csv_text, drop

    x, y = blobs(120, seed=5)
    manifest = {
        "algorithm": "xgboost",
        "hyperparameters": {"objective": "multi:softmax", "num_class": 3, "num_round": 5},
    }
    drop(iam, "who", manifest, csv_text(x, y), csv_text(x, y))
    assert iam.wait_for_status("who", ("in_service", "failed"), timeout=60)["status"] == "in_service"
    assert signed.call(iam, "POST", "/models/who/stop", principal="admin")[0] == 200
    item = iam.registry_item("who")
    assert item["status"] == "hibernated"
    assert item["stopped_by"] == "iam:arn:aws:iam::123456789012:user/sagedrop-local-admin"
    assert signed.call(iam, "POST", "/models/who/start", principal="admin")[0] == 202
    assert iam.registry_item("who")["started_by"] == "iam:arn:aws:iam::123456789012:user/sagedrop-local-admin"


def test_cognito_mode_takes_id_tokens_and_needs_the_admin_group_to_stop():
    with LocalStack(
        stack="sagedrop-cognito", api_port=0, overrides={"AuthMode": "cognito"}, log=lambda line: None
    ) as stack:
        pool = stack.auth.user_pool
        assert stack.auth.principals == {}  # no IAM policies in this mode
        status, answer = signed.call(stack, "GET", "/models", principal=None)
        assert (status, answer["error"]["message"]) == (401, "Unauthorized")
        status, answer = signed.call(stack, "GET", "/models", principal=None, headers={"Authorization": "not-a-jwt"})
        assert (status, answer["error"]["message"]) == (401, "Unauthorized")
        for user in ("predictor", "admin"):
            token = {"Authorization": pool.id_token(user)}
            assert signed.call(stack, "GET", "/models", principal=None, headers=token) == (200, {"models": []})
        status, answer = signed.call(
            stack, "POST", "/models/ghost/stop", principal=None, headers={"Authorization": pool.id_token("predictor")}
        )
        assert status == 403 and "needs membership of the Cognito group 'sagedrop-admins'" in answer["error"]["message"]
        assert "predictor@sagedrop.local" in answer["error"]["message"]
        status, answer = signed.call(
            stack, "POST", "/models/ghost/stop", principal=None, headers={"Authorization": pool.id_token("admin")}
        )
        assert status == 404 and answer["error"]["code"] == "model_not_found"  # past the group check
        token = pool.id_token("admin")
        with pytest.raises(AuthFailure, match=r"^The incoming token has expired$"):
            pool.claims(token, now=lambda: 4_000_000_000)


def test_apikey_mode_and_metering_on_top_of_iam():
    with LocalStack(stack="sagedrop-key", api_port=0, overrides={"AuthMode": "apikey"}, log=lambda line: None) as stack:
        status, answer = signed.call(stack, "GET", "/models", principal=None)
        assert status == 403 and "x-api-key" in answer["error"]["message"]
        assert signed.call(stack, "GET", "/models", principal=None, headers={"x-api-key": stack.api_key})[0] == 200
    with LocalStack(
        stack="sagedrop-meter", api_port=0, overrides={"MeterWithApiKeys": "true"}, log=lambda line: None
    ) as stack:
        status, answer = signed.call(stack, "GET", "/models")  # signed, but no key
        assert status == 403 and "x-api-key" in answer["error"]["message"]
        assert signed.call(stack, "GET", "/models", headers={"x-api-key": stack.api_key}) == (200, {"models": []})
        assert signed.call(stack, "GET", "/models", principal=None, headers={"x-api-key": stack.api_key})[0] == 403
