"""sagedrop's local stack: the whole pipeline offline (emulated AWS, local SageMaker, the same handlers and wiring).

Local-only: nothing here is shipped in the Lambda layer.
"""
