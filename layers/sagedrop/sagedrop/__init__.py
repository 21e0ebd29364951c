"""sagedrop: SageMaker built-in algorithms from an S3 drop. The domain package shipped in the Lambda layer."""

__version__ = "0.1.0"
