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


def test_every_api_route_needs_an_api_key_and_a_usage_plan_throttles():
    api = resource("PredictionApi")["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["CreateUsagePlan"] == "PER_API"
    assert set(api["Auth"]["UsagePlan"]["Throttle"]) == {"RateLimit", "BurstLimit"}
    assert "image~1jpeg" in api["BinaryMediaTypes"]
    assert "AccessLogSetting" in api
    for event in resource("PredictFunction")["Properties"]["Events"].values():
        assert event["Type"] == "Api"
        assert event["Properties"]["RestApiId"] == {"Ref": "PredictionApi"}
        assert event["Properties"].get("Auth", {}).get("ApiKeyRequired", True) is True


def test_registry_is_on_demand_with_the_expected_keys():
    props = resource("RegistryTable")["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "model", "KeyType": "HASH"},
        {"AttributeName": "record", "KeyType": "RANGE"},
    ]


def test_outputs_expose_the_key_id_not_the_key():
    outputs = load_template()["Outputs"]
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "PredictionApiApiKey"}
    for name in ("DataBucketName", "ApiUrl", "RegistryTableName", "NotificationTopicArn"):
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


def test_every_api_method_requires_the_key_after_the_transform(transformed):
    methods = [
        (path, verb, spec)
        for resource_ in transformed["Resources"].values()
        if resource_["Type"] == "AWS::ApiGateway::RestApi"
        for path, verbs in resource_["Properties"]["Body"]["paths"].items()
        for verb, spec in verbs.items()
    ]
    assert len(methods) == 5
    for path, verb, spec in methods:
        assert {"api_key": []} in spec["security"], (path, verb)


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
