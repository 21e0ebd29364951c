"""template.yaml: the properties the design promises (cfn-lint and sam validate check the syntax)."""

from __future__ import annotations

import re

import pytest

from tests.support.template import load_template, resource

FUNCTIONS = ("TrainFunction", "DeployFunction", "PredictFunction", "CleanupFunction")


def test_functions_run_python312_on_arm64_with_the_layer():
    globals_ = load_template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Layers"] == [{"Ref": "DomainLayer"}]
    env = globals_["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "sagedrop"
    for name in FUNCTIONS:
        props = resource(name)["Properties"]
        assert props["CodeUri"] == f"functions/{name.removesuffix('Function').lower()}/"
        assert "Runtime" not in props


def test_layer_is_built_by_its_makefile_for_arm64():
    layer = resource("DomainLayer")
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_manifest_upload_triggers_train():
    event = resource("TrainFunction")["Properties"]["Events"]["ManifestDropped"]
    assert event["Type"] == "S3"
    assert event["Properties"]["Bucket"] == {"Ref": "DataBucket"}
    assert event["Properties"]["Filter"]["S3Key"]["Rules"] == [{"Name": "suffix", "Value": "training.json"}]


@pytest.mark.parametrize("bucket", ["DataBucket", "ArtifactBucket"])
def test_buckets_are_encrypted_private_versioned_and_tls_only(bucket):
    props = resource(bucket)["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    policy = resource(f"{bucket}Policy")["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in policy if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_sagemaker_role_trust_limits_the_source_as_the_confused_deputy_guidance_says():
    """https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html: for
    inference (real-time, serverless) the trust policy uses ArnLike aws:SourceArn
    ``arn:aws:sagemaker:<region>:<account>:*`` ("Do not replace ... with the full ARN of a specific model
    or endpoint"); for training jobs ``...:training-job/*``, which that pattern covers. With both keys,
    aws:SourceAccount must name the same account."""
    document = resource("SageMakerExecutionRole")["Properties"]["AssumeRolePolicyDocument"]
    [statement] = document["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    condition = statement["Condition"]
    assert condition["ArnLike"] == {
        "aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:*"}
    }
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # ArnLike: "*" matches any characters. The ARNs SageMaker names as sources must match in this account only.
    sub = condition["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    arn = sub.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-east-1")
    arn = arn.replace("${AWS::AccountId}", "123456789012")
    pattern = ".*".join(re.escape(part) for part in arn.split("*"))
    for source in (
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/churn-20261126-101530-abcdef",
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn",
    ):
        assert re.fullmatch(pattern, source)
    assert not re.fullmatch(pattern, "arn:aws:sagemaker:us-east-1:999999999999:training-job/x")


def test_train_may_pass_only_the_sagemaker_role_to_sagemaker():
    statements = resource("TrainFunction")["Properties"]["Policies"][0]["Statement"]
    [pass_role] = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    [create] = [s for s in statements if "sagemaker:CreateTrainingJob" in s["Action"]]
    assert create["Condition"]["StringEquals"] == {"aws:RequestTag/sagedrop:stack": {"Ref": "AWS::StackName"}}


def test_no_function_gets_wildcard_sagemaker_or_s3():
    for name in FUNCTIONS:
        for policy in resource(name)["Properties"]["Policies"]:
            for statement in policy.get("Statement", []):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any(a in ("*", "sagemaker:*", "s3:*") for a in actions), (name, statement)


def test_async_functions_keep_failed_events():
    for name in ("TrainFunction", "DeployFunction"):
        config = resource(name)["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    for name, event in (("DeployFunction", "TrainingJobEnded"), ("CleanupFunction", "Schedule")):
        assert "DeadLetterConfig" in resource(name)["Properties"]["Events"][event]["Properties"]


def test_the_api_is_throttled_per_stage_without_keys_and_keeps_a_usage_plan_for_metering():
    """Stage-level MethodSettings throttle every caller together; the usage plan meters API keys on top."""
    api = resource("PredictionApi")["Properties"]
    [settings] = api["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottleBurstLimit"}
    assert api["Auth"]["UsagePlan"]["CreateUsagePlan"] == "PER_API"
    assert set(api["Auth"]["UsagePlan"]["Throttle"]) == {"RateLimit", "BurstLimit"}
    assert "DefaultAuthorizer" not in api["Auth"] and "ApiKeyRequired" not in api["Auth"]  # see the body
    assert "image~1jpeg" in api["BinaryMediaTypes"]
    assert "AccessLogSetting" in api
    assert "$context.identity.userArn" in api["AccessLogSetting"]["Format"]
    for event in resource("PredictFunction")["Properties"]["Events"].values():
        assert event["Type"] == "Api"
        assert event["Properties"]["RestApiId"] == {"Ref": "PredictionApi"}
        assert "Auth" not in event["Properties"]  # authorization is the API body's, one place


def test_iam_is_the_default_and_the_three_modes_are_the_only_choices():
    param = load_template()["Parameters"]["AuthMode"]
    assert param["Default"] == "iam"
    assert param["AllowedValues"] == ["iam", "cognito", "apikey"]
    assert load_template()["Parameters"]["MeterWithApiKeys"]["Default"] == "false"


def test_registry_is_on_demand_with_the_expected_keys():
    props = resource("RegistryTable")["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "model", "KeyType": "HASH"},
        {"AttributeName": "record", "KeyType": "RANGE"},
    ]


def test_outputs_expose_the_policies_the_mode_and_the_key_id_not_the_key():
    outputs = load_template()["Outputs"]
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "PredictionApiApiKey"}
    assert outputs["AuthMode"]["Value"] == {"Ref": "AuthMode"}
    assert outputs["PredictorPolicyArn"] == {**outputs["PredictorPolicyArn"], "Condition": "AuthIam"}
    assert outputs["PredictorPolicyArn"]["Value"] == {"Ref": "PredictorPolicy"}
    assert outputs["AdminPolicyArn"]["Value"] == {"Ref": "AdminPolicy"}
    assert outputs["ApiKeyWarning"]["Condition"] == "AuthApiKey"
    assert "WARNING" in outputs["ApiKeyWarning"]["Value"]
    for name in ("DataBucketName", "ApiUrl", "RegistryTableName", "NotificationTopicArn", "ApiKeyRequired"):
        assert name in outputs


@pytest.fixture(scope="module")
def transformed():
    """The template after the SAM transform (what CloudFormation receives), offline."""
    import copy
    import os

    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}

    template = copy.deepcopy(load_template())
    for resource_ in template["Resources"].values():
        props = resource_.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                props[key] = "s3://bucket/artifact.zip"  # what `sam package` puts there
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        return transform(template, {}, NoManagedPolicies())
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


def test_only_the_train_function_carries_the_numpy_layer(transformed):
    layers = {
        name: [ref["Ref"].rstrip("0123456789abcdef") for ref in transformed["Resources"][name]["Properties"]["Layers"]]
        for name in FUNCTIONS
    }
    assert layers["TrainFunction"] == ["DomainLayer", "DataLayer"]
    for name in ("DeployFunction", "PredictFunction", "CleanupFunction"):
        assert layers[name] == ["DomainLayer"]


MODES = [
    # (parameter overrides, the schemes every method must ask for)
    ({}, {"sigv4"}),
    ({"AuthMode": "iam", "MeterWithApiKeys": "true"}, {"sigv4", "api_key"}),
    ({"AuthMode": "cognito"}, {"cognito"}),
    ({"AuthMode": "cognito", "MeterWithApiKeys": "true"}, {"cognito", "api_key"}),
    ({"AuthMode": "apikey"}, {"api_key"}),
    ({"AuthMode": "apikey", "MeterWithApiKeys": "true"}, {"api_key"}),
]


def _deployed(transformed, overrides):
    """The transformed template's conditions resolved for these parameters (the local stack's evaluator)."""
    from sagedrop_local.wiring import Wiring

    return Wiring.load("sagedrop-test", "us-east-1", overrides, transformed).evaluate


@pytest.mark.parametrize(("overrides", "schemes"), MODES)
def test_every_api_method_has_the_chosen_authorization_after_the_transform(transformed, overrides, schemes):
    """No method is left open in any mode: each asks for exactly the mode's schemes, all of them defined.

    IAM is the reserved ``x-amazon-apigateway-authtype: awsSigv4`` on an apiKey-type scheme on the
    Authorization header (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html)."""
    evaluate = _deployed(transformed, overrides)
    [api] = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body = api["Properties"]["Body"]
    methods = [(path, verb, spec) for path, verbs in body["paths"].items() for verb, spec in verbs.items()]
    events = resource("PredictFunction")["Properties"]["Events"].values()
    assert sorted((p, v) for p, v, _ in methods) == sorted(
        (e["Properties"]["Path"], e["Properties"]["Method"].lower()) for e in events
    )
    definitions = {k: v for k, v in evaluate(body["securityDefinitions"]).items() if v is not None}
    for path, verb, spec in methods:
        assert "x-amazon-apigateway-integration" in spec, (path, verb)
        security = evaluate(spec["security"])
        assert len(security) == 1 and set(security[0]) == schemes, (path, verb, security)
        assert schemes <= set(definitions)
    if "sigv4" in schemes:
        assert definitions["sigv4"] == {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    if "cognito" in schemes:
        authorizer = definitions["cognito"]["x-amazon-apigateway-authorizer"]
        assert authorizer["type"] == "cognito_user_pools"
        assert authorizer["providerARNs"][0].startswith("arn:aws:cognito-idp:us-east-1:")
    else:
        assert "cognito" not in definitions  # no authorizer pointing at a pool that does not exist
    assert definitions["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}


def test_the_predictor_and_admin_policies_name_this_api_and_stage_only():
    """execute-api:Invoke resources: arn:aws:execute-api:region:account-id:api-id/stage/METHOD/resource-path
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-iam-policy-examples-for-api-execution.html).
    Evaluated with the local stack's IAM evaluator on concrete request ARNs."""
    from sagedrop_local.sigv4 import Principal, invoke_arn
    from sagedrop_local.wiring import Wiring

    wiring = Wiring.load("sagedrop-test", "us-east-1")
    api_id = wiring.evaluate({"Ref": "PredictionApi"})
    policies = {
        name: Principal.create(
            name, wiring.account, wiring.evaluate(resource(f"{name.title()}Policy")["Properties"]["PolicyDocument"])
        )
        for name in ("predictor", "admin")
    }
    for name in policies:
        assert resource(f"{name.title()}Policy")["Condition"] == "AuthIam"

    def arn(method, path, api=api_id, stage="v1"):
        return invoke_arn("us-east-1", wiring.account, api, stage, method, path)

    reads = [arn("GET", "/models"), arn("GET", "/models/churn"), arn("POST", "/models/churn/predictions")]
    admin_only = [arn("POST", "/models/churn/stop"), arn("POST", "/models/churn/start")]
    elsewhere = [arn("GET", "/models", api="otherapi01"), arn("GET", "/models", stage="test")]
    for target in reads:
        assert policies["predictor"].allows("execute-api:Invoke", target)
        assert policies["admin"].allows("execute-api:Invoke", target)
    for target in admin_only:
        assert not policies["predictor"].allows("execute-api:Invoke", target)
        assert policies["admin"].allows("execute-api:Invoke", target)
    for target in elsewhere:
        assert not policies["predictor"].allows("execute-api:Invoke", target)
        assert not policies["admin"].allows("execute-api:Invoke", target)
    assert not policies["admin"].allows("execute-api:ManageConnections", arn("GET", "/models"))


def test_cognito_mode_creates_an_admin_only_pool_with_the_admin_group_unless_given_one():
    pool = resource("UserPool")
    assert pool["Condition"] == "CreateUserPool"
    assert pool["Properties"]["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}  # no self sign-up
    group = resource("UserPoolAdminGroup")["Properties"]
    assert group["GroupName"] == {"Ref": "CognitoAdminGroup"}
    assert resource("UserPoolClient")["Properties"]["GenerateSecret"] is False
    env = resource("PredictFunction")["Properties"]["Environment"]["Variables"]
    assert env["AUTH_MODE"] == {"Ref": "AuthMode"} and env["ADMIN_GROUP"] == {"Ref": "CognitoAdminGroup"}


def test_the_optional_resource_policy_limits_networks_and_accounts(transformed):
    """Resource policies: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html"""
    [api] = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    policy = api["Properties"]["Body"]["x-amazon-apigateway-policy"]
    assert _deployed(transformed, {})(policy) is None  # none by default
    document = _deployed(transformed, {"AllowedSourceCidrs": "10.0.0.0/8"})(policy)
    allow, deny = document["Statement"]
    assert allow == {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
    assert deny["Effect"] == "Deny" and set(deny["Condition"]) == {"NotIpAddress"}
    document = _deployed(transformed, {"AllowedSourceVpcEndpoints": "vpce-1", "AllowedSourceCidrs": "10.0.0.0/8"})(
        policy
    )
    assert set(document["Statement"][1]["Condition"]) == {"NotIpAddress", "StringNotEquals"}  # either one admits
    document = _deployed(transformed, {"AllowedAccounts": "111122223333"})(policy)
    # AWS::NoValue (None here) drops the list item in CloudFormation: no network statement
    assert [s for s in document["Statement"] if s is not None] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "111122223333"},
            "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*",
        }
    ]


def _references(node, found):
    """Logical ids a template value depends on: Ref, GetAtt and ${...} in Sub."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(value, str):
                    _references(value[1], found)
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)
    return found


def test_the_transformed_template_has_no_dependency_cycle(transformed):
    """CloudFormation refuses a cycle (e.g. bucket notification -> function -> role -> bucket)."""
    resources = transformed["Resources"]
    graph = {}
    for name, body in resources.items():
        depends = body.get("DependsOn", [])
        edges = _references(body.get("Properties", {}), set())
        edges |= {depends} if isinstance(depends, str) else set(depends)
        graph[name] = {edge for edge in edges if edge in resources and edge != name}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for edge in graph[node]:
            if state.get(edge) == 1:
                raise AssertionError("dependency cycle: " + " -> ".join([*path, node, edge]))
            if edge not in state:
                visit(edge, [*path, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])
