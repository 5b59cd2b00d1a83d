"""kube_schema.py - what the real apiextensions server does with a CRD's openAPIV3Schema:
pruning of unknown fields (or a 400 under fieldValidation=Strict), defaulting, and validation
of types, enums, bounds, lengths, patterns, item counts and required fields (422 Invalid with
one cause per field, worded like the real server).

LIMITATION: CEL rules (x-kubernetes-validations), `format` checks other than int32/int64
ranges, and oneOf/anyOf/not are not evaluated; a fix needs a CEL interpreter and the
kube-openapi format registry.
"""

import copy
import json
import re

from . import kube_errors as E

# ObjectMeta fields a client may send; anything else under metadata is unknown.
_OBJECT_META = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                "generation", "creationTimestamp", "deletionTimestamp",
                "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
                "finalizers", "managedFields"}


def version_schema(info, version):
    v = info.crd_version(version) or info.crd_version(info.version)
    if not v:
        return None
    return (v.get("schema") or {}).get("openAPIV3Schema")


def prune_and_default(info, version, obj, strict=False, warnings=None):
    """Drop (or, strict, reject) unknown fields and fill defaults, in place."""
    schema = version_schema(info, version)
    if not schema:
        return obj
    unknown = []
    md = obj.get("metadata")
    if isinstance(md, dict):
        for k in list(md):
            if k not in _OBJECT_META:
                unknown.append("metadata." + k)
                del md[k]
    for k in list(obj):
        if k in ("apiVersion", "kind", "metadata"):
            continue
        props = schema.get("properties") or {}
        if k not in props and not schema.get("x-kubernetes-preserve-unknown-fields"):
            unknown.append(k)
            del obj[k]
        elif k in props:
            v = _prune(obj[k], props[k], k, unknown)
            if v is _DROP:
                del obj[k]
            else:
                obj[k] = v
    if unknown:
        if strict:
            raise E.bad_request("strict decoding error: " + ", ".join(
                'unknown field "%s"' % u for u in unknown))
        if warnings is not None:
            for u in unknown:
                warnings.append('unknown field "%s"' % u)
    _default(obj, schema, root=True)
    return obj


_DROP = object()


def _prune(val, sch, path, unknown):
    """Return the pruned value (or _DROP for a null a non-nullable field may not hold)."""
    if not isinstance(sch, dict):
        return val
    if val is None:
        if sch.get("nullable"):
            return None
        return _DROP
    preserve = sch.get("x-kubernetes-preserve-unknown-fields")
    if isinstance(val, dict):
        props = sch.get("properties")
        addl = sch.get("additionalProperties")
        embedded = sch.get("x-kubernetes-embedded-resource")
        for k in list(val):
            if props and k in props:
                r = _prune(val[k], props[k], path + "." + k, unknown)
            elif isinstance(addl, dict):
                r = _prune(val[k], addl, path + "." + k, unknown)
            elif addl is True or preserve:
                continue
            elif embedded and k in ("apiVersion", "kind", "metadata"):
                continue
            elif sch.get("type") in (None, "object"):
                unknown.append(path + "." + k)
                del val[k]
                continue
            else:
                continue  # not an object schema: type validation reports it
            if r is _DROP:
                del val[k]
            else:
                val[k] = r
        return val
    if isinstance(val, list):
        items = sch.get("items")
        if isinstance(items, dict):
            out = []
            for i, x in enumerate(val):
                r = _prune(x, items, "%s[%d]" % (path, i), unknown)
                out.append(None if r is _DROP else r)
            return out
    return val


def _default(val, sch, root=False):
    if not isinstance(sch, dict):
        return
    if isinstance(val, dict):
        props = sch.get("properties") or {}
        for k, ps in props.items():
            if root and k in ("metadata", "apiVersion", "kind"):
                continue
            if k not in val and isinstance(ps, dict) and "default" in ps:
                val[k] = copy.deepcopy(ps["default"])
            if k in val:
                _default(val[k], ps)
        addl = sch.get("additionalProperties")
        if isinstance(addl, dict):
            for k in val:
                if k not in props:
                    _default(val[k], addl)
    elif isinstance(val, list):
        items = sch.get("items")
        if isinstance(items, dict):
            for x in val:
                _default(x, items)


# ------------------------------------------------------------------ validation
def _gofmt(v):
    """A value the way the real server prints it in `Invalid value: X`."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    if v is None:
        return "null"
    return '"%s"' % _type_name(v)


def _type_name(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _type_ok(v, t, sch):
    if sch.get("x-kubernetes-int-or-string"):
        return isinstance(v, (int, str)) and not isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or \
            (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    return True


def validate(info, version, obj):
    """Raise 422 Invalid listing every schema violation in obj."""
    schema = version_schema(info, version)
    if not schema:
        return
    causes = []
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    props = schema.get("properties") or {}
    for k, v in body.items():
        if k in props:
            _validate(v, props[k], k, causes)
    for r in schema.get("required") or []:
        if r not in obj:
            causes.append((r, "FieldValueRequired", "Required value"))
    if causes:
        raise E.invalid(info, obj.get("metadata", {}).get("name", ""), causes)


def _validate(v, sch, path, causes):
    if not isinstance(sch, dict):
        return
    if v is None:
        if not sch.get("nullable") and sch.get("type"):
            causes.append((path, "FieldValueTypeInvalid",
                           'Invalid value: "null": %s in body must be of type %s: "null"'
                           % (path, sch.get("type"))))
        return
    t = sch.get("type")
    if t and not _type_ok(v, t, sch):
        causes.append((path, "FieldValueTypeInvalid",
                       'Invalid value: "%s": %s in body must be of type %s: "%s"'
                       % (_type_name(v), path, t, _type_name(v))))
        return
    if "enum" in sch and v not in sch["enum"]:
        causes.append((path, "FieldValueNotSupported",
                       "Unsupported value: %s: supported values: %s"
                       % (_gofmt(v), ", ".join(_gofmt(x) for x in sch["enum"]))))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        fmt = sch.get("format")
        if fmt == "int32" and not (-2 ** 31 <= v < 2 ** 31):
            causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body must be "
                           "of type int32: \"%s\"" % (_gofmt(v), path, _gofmt(v))))
        mn, mx = sch.get("minimum"), sch.get("maximum")
        if mn is not None:
            if sch.get("exclusiveMinimum") and not v > mn:
                causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                               "should be greater than %s" % (_gofmt(v), path, _gofmt(mn))))
            elif not v >= mn:
                causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                               "should be greater than or equal to %s"
                               % (_gofmt(v), path, _gofmt(mn))))
        if mx is not None:
            if sch.get("exclusiveMaximum") and not v < mx:
                causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                               "should be less than %s" % (_gofmt(v), path, _gofmt(mx))))
            elif not v <= mx:
                causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                               "should be less than or equal to %s"
                               % (_gofmt(v), path, _gofmt(mx))))
        mo = sch.get("multipleOf")
        if mo and (v / mo) != int(v / mo):
            causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                           "be a multiple of %s" % (_gofmt(v), path, _gofmt(mo))))
    if isinstance(v, str):
        if sch.get("minLength") is not None and len(v) < sch["minLength"]:
            causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body should "
                           "be at least %d chars long" % (_gofmt(v), path, sch["minLength"])))
        if sch.get("maxLength") is not None and len(v) > sch["maxLength"]:
            causes.append((path, "FieldValueTooLong", "Too long: may not be more than %d "
                           "bytes" % sch["maxLength"]))
        if sch.get("pattern"):
            try:
                ok = re.search(sch["pattern"], v) is not None
            except re.error:
                ok = True
            if not ok:
                causes.append((path, "FieldValueInvalid", "Invalid value: %s: %s in body "
                               "should match '%s'" % (_gofmt(v), path, sch["pattern"])))
    if isinstance(v, list):
        if sch.get("minItems") is not None and len(v) < sch["minItems"]:
            causes.append((path, "FieldValueInvalid", "Invalid value: %d: %s in body should "
                           "have at least %d items" % (len(v), path, sch["minItems"])))
        if sch.get("maxItems") is not None and len(v) > sch["maxItems"]:
            causes.append((path, "FieldValueTooMany", "Too many: %d: must have at most %d "
                           "items" % (len(v), sch["maxItems"])))
        if sch.get("uniqueItems") or sch.get("x-kubernetes-list-type") == "set":
            seen = []
            for i, x in enumerate(v):
                if x in seen:
                    causes.append(("%s[%d]" % (path, i), "FieldValueDuplicate",
                                   "Duplicate value: %s" % _gofmt(x)))
                seen.append(x)
        if sch.get("x-kubernetes-list-type") == "map":
            keys = sch.get("x-kubernetes-list-map-keys") or []
            seen = []
            for i, x in enumerate(v):
                if isinstance(x, dict):
                    k = tuple(x.get(kk) for kk in keys)
                    if k in seen:
                        causes.append(("%s[%d]" % (path, i), "FieldValueDuplicate",
                                       "Duplicate value: map[string]interface {}{%s}"
                                       % ", ".join('"%s":%s' % (kk, _gofmt(x.get(kk)))
                                                   for kk in keys)))
                    seen.append(k)
        items = sch.get("items")
        if isinstance(items, dict):
            for i, x in enumerate(v):
                _validate(x, items, "%s[%d]" % (path, i), causes)
    if isinstance(v, dict):
        props = sch.get("properties") or {}
        for r in sch.get("required") or []:
            if r not in v:
                causes.append(("%s.%s" % (path, r), "FieldValueRequired", "Required value"))
        if sch.get("minProperties") is not None and len(v) < sch["minProperties"]:
            causes.append((path, "FieldValueInvalid", "Invalid value: %d: %s in body should "
                           "have at least %d properties" % (len(v), path,
                                                            sch["minProperties"])))
        if sch.get("maxProperties") is not None and len(v) > sch["maxProperties"]:
            causes.append((path, "FieldValueTooMany", "Too many: %d: must have at most %d "
                           "items" % (len(v), sch["maxProperties"])))
        addl = sch.get("additionalProperties")
        for k, x in v.items():
            if k in props:
                _validate(x, props[k], "%s.%s" % (path, k), causes)
            elif isinstance(addl, dict):
                _validate(x, addl, "%s[%s]" % (path, k), causes)
    for sub in sch.get("allOf") or []:
        _validate(v, dict(sub, type=sub.get("type")), path, causes)


def process(info, version, obj, strict=False, warnings=None):
    """Prune, default and validate obj in place (create/update without admission)."""
    prune_and_default(info, version, obj, strict=strict, warnings=warnings)
    validate(info, version, obj)
    return obj
