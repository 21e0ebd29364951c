"""sagedrop.caller: who called, from the request context API Gateway fills in, and the Cognito admin check.

Context fields: ``$context.identity.userArn`` / ``apiKeyId`` (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html)
and ``requestContext.authorizer.claims`` for a Cognito user pool authorizer
(https://repost.aws/knowledge-center/cognito-user-pool-group).
"""

from __future__ import annotations

import pytest

from sagedrop import api, caller
from sagedrop.settings import AuthSettings


def test_an_iam_caller_is_named_by_its_arn():
    who = caller.from_request_context(
        {"identity": {"userArn": "arn:aws:iam::111122223333:user/ana", "caller": "AIDAEXAMPLE", "sourceIp": "1.2.3.4"}}
    )
    assert who == caller.Caller("iam", "arn:aws:iam::111122223333:user/ana", "AIDAEXAMPLE")
    assert who.label == "iam:arn:aws:iam::111122223333:user/ana"
    assert who.log_fields() == {"caller": who.label, "caller_kind": "iam"}


def test_a_cognito_caller_is_named_by_email_and_sub_with_its_groups():
    claims = {"sub": "0b1c", "email": "ana@example.com", "cognito:username": "0b1c", "cognito:groups": "admins,ops"}
    who = caller.from_request_context({"authorizer": {"claims": claims}, "identity": {"sourceIp": "1.2.3.4"}})
    assert who.kind == "cognito" and who.groups == ("admins", "ops")
    assert who.label == "cognito:ana@example.com (0b1c)"


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        (None, ()),
        ("", ()),
        ("admins", ("admins",)),
        ("a,b", ("a", "b")),
        ("[a b]", ("a", "b")),
        (["a", "b"], ("a", "b")),
    ],
)
def test_groups_arrive_as_a_list_or_a_flattened_string(value, groups):
    assert caller.groups_of(value) == groups


def test_an_api_key_caller_and_an_anonymous_one():
    assert caller.from_request_context({"identity": {"apiKeyId": "k1"}}).label == "apikey:k1"
    assert caller.from_request_context({"identity": {"sourceIp": "9.9.9.9"}}).label == "unknown:9.9.9.9"
    assert caller.from_request_context(None).kind == "unknown"


def test_cognito_admin_routes_need_the_group_and_say_how_to_join():
    outsider = caller.Caller("cognito", "0b1c", "ana@example.com", ("readers",))
    with pytest.raises(caller.Forbidden) as refused:
        caller.require_admin(outsider, auth_mode="cognito", admin_group="admins", route="POST /models/m/stop")
    status, body, _ = api.error_response(refused.value)
    assert status == 403 and body["error"]["code"] == "forbidden"
    message = body["error"]["message"]
    assert "POST /models/m/stop needs membership of the Cognito group 'admins'" in message
    assert "in groups readers" in message and "admin-add-user-to-group" in message
    insider = caller.Caller("cognito", "0b1d", "bo@example.com", ("admins",))
    caller.require_admin(insider, auth_mode="cognito", admin_group="admins", route="POST /models/m/stop")


def test_iam_and_apikey_modes_leave_route_checks_to_api_gateway():
    nobody = caller.Caller("iam", "arn:aws:iam::1:user/x")
    for mode in ("iam", "apikey"):
        caller.require_admin(nobody, auth_mode=mode, admin_group="admins", route="POST /models/m/stop")


def test_settings_come_from_the_template_environment():
    assert AuthSettings.from_env({}) == AuthSettings("iam", "sagedrop-admins")
    assert AuthSettings.from_env({"AUTH_MODE": "cognito", "ADMIN_GROUP": "ops"}) == AuthSettings("cognito", "ops")
