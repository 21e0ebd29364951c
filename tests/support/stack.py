"""This stack's resources created on moto, shaped after template.yaml, with helpers to drive flows."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3

from tests.support.template import resource

EVENTS_TEMPLATE_KEY = ("train", "s3-put-training-json.json")


@dataclass
class MotoStack:
    name: str
    region: str
    data_bucket: str
    artifact_bucket: str
    table: str
    topic_arn: str
    queue_url: str
    role_arn: str
    clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str, region: str) -> MotoStack:
        s3 = boto3.client("s3", region_name=region)
        data_bucket = f"sagedrop-data-123456789012-{'a1b2c3d4e5f6'}"
        artifact_bucket = f"{name}-artifactbucket-1x2y3z"
        for bucket in (data_bucket, artifact_bucket):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

        ddb = boto3.client("dynamodb", region_name=region)
        props = resource("RegistryTable")["Properties"]
        table = f"{name}-RegistryTable-ABC123"
        ddb.create_table(
            TableName=table,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props["BillingMode"],
        )

        sns = boto3.client("sns", region_name=region)
        sqs = boto3.client("sqs", region_name=region)
        topic_arn = sns.create_topic(Name=f"{name}-NotificationTopic")["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"{name}-notifications-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"}
        )

        iam = boto3.client("iam", region_name=region)
        role_arn = iam.create_role(
            RoleName=f"{name}-SageMakerExecutionRole",
            AssumeRolePolicyDocument=json.dumps(
                resource("SageMakerExecutionRole")["Properties"]["AssumeRolePolicyDocument"], default=str
            ),
        )["Role"]["Arn"]
        return cls(
            name,
            region,
            data_bucket,
            artifact_bucket,
            table,
            topic_arn,
            queue_url,
            role_arn,
            {
                "s3": s3,
                "dynamodb": ddb,
                "sns": sns,
                "sqs": sqs,
                "sagemaker": boto3.client("sagemaker", region_name=region),
            },
        )

    def environment(self) -> dict[str, str]:
        """The functions' environment as template.yaml sets it, pointing at these resources."""
        return {
            "SAGEDROP_STACK": self.name,
            "REGISTRY_TABLE": self.table,
            "NOTIFICATION_TOPIC_ARN": self.topic_arn,
            "SAGEMAKER_ROLE_ARN": self.role_arn,
            "ARTIFACT_BUCKET": self.artifact_bucket,
            "DEFAULT_TRAINING_INSTANCE_TYPE": "ml.m5.xlarge",
            "DEFAULT_GPU_TRAINING_INSTANCE_TYPE": "ml.g5.xlarge",
            "DEFAULT_HOSTING_INSTANCE_TYPE": "ml.m5.large",
            "DEFAULT_GPU_HOSTING_INSTANCE_TYPE": "ml.g5.xlarge",
            "IDLE_MINUTES": "120",
        }

    # ---- data ----------------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        return self.clients["s3"]

    @property
    def sagemaker(self) -> Any:
        return self.clients["sagemaker"]

    def put(self, key: str, body: bytes | str) -> dict[str, Any]:
        data = body.encode() if isinstance(body, str) else body
        return self.s3.put_object(Bucket=self.data_bucket, Key=key, Body=data)

    def drop_manifest(self, folder: str, manifest: dict[str, Any] | str | bytes, when: str | None = None) -> dict:
        """Upload <folder>/training.json and return the S3 event S3 would send for it."""
        key = f"{folder.rstrip('/')}/training.json" if folder else "training.json"
        if isinstance(manifest, dict):
            manifest = json.dumps(manifest, indent=2)
        response = self.put(key, manifest)
        size = len(manifest.encode() if isinstance(manifest, str) else manifest)
        return self.s3_event(key, response.get("VersionId"), response["ETag"].strip('"'), size, when)

    def s3_event(self, key: str, version: str | None, etag: str, size: int, when: str | None = None) -> dict:
        from tests.conftest import load_event

        event = copy.deepcopy(load_event(*EVENTS_TEMPLATE_KEY))
        record = event["Records"][0]
        record["eventTime"] = when or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        record["awsRegion"] = self.region
        record["s3"]["bucket"]["name"] = self.data_bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{self.data_bucket}"
        record["s3"]["object"].update({"key": quote_plus(key, safe="/"), "size": size, "eTag": etag})
        if version:
            record["s3"]["object"]["versionId"] = version
        else:
            record["s3"]["object"].pop("versionId", None)
        return event

    # ---- state ---------------------------------------------------------------------------

    def registry_item(self, model: str, record: str = "MODEL") -> dict[str, Any] | None:
        from sagedrop.registry import from_item

        item = (
            self.clients["dynamodb"]
            .get_item(TableName=self.table, Key={"model": {"S": model}, "record": {"S": record}})
            .get("Item")
        )
        return from_item(item) if item else None

    def training_jobs(self) -> list[str]:
        return [j["TrainingJobName"] for j in self.sagemaker.list_training_jobs()["TrainingJobSummaries"]]

    def notifications(self) -> list[dict[str, Any]]:
        """Messages published to the topic since the last call (subject, message, attributes)."""
        sqs = self.clients["sqs"]
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                found.append(
                    {
                        "subject": envelope.get("Subject"),
                        "message": envelope["Message"],
                        "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
                    }
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
