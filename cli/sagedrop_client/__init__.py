"""What runs on the user's machine and both the CLI and the local stack use.

The API client (:mod:`sagedrop_client.api`), the local stack's state file (:mod:`sagedrop_client.state`)
and the data preparation tools (:mod:`sagedrop_client.prepare`). The import direction is one way:
``sagedrop_cli`` imports ``sagedrop_local`` and ``sagedrop_client``; ``sagedrop_local`` imports
``sagedrop_client``; ``sagedrop_client`` imports neither (tests/unit/test_import_direction.py checks it).
Nothing here enters the Lambda layer.
"""
