"""Answers checked against a named schema of the OpenAPI document (flashsale/api/openapi.json).

The UI's TypeScript types are generated from those schemas (webui/src/lib/api.generated.ts):
an answer that does not match its schema is one the UI is typed wrong for.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from flashsale.api.openapi import openapi_document


def schema_problems(value: Any, name: str) -> list[str]:
    """What in `value` breaks `#/components/schemas/<name>` (empty when it matches)."""
    components = json.loads(openapi_document())["components"]
    assert name in components["schemas"], f"no schema {name} in the document"
    # The document's components beside the $ref: JSON Schema resolves it from this root.
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": components}
    )
    return [
        f"/{'/'.join(map(str, error.instance_path))}: {error.message}"
        for error in validator.iter_errors(value)
    ]
