"""kube_proto.py - decode the protobuf request bodies kubectl sends for a few built-in kinds.

`kubectl create namespace|configmap|secret|serviceaccount` post
`application/vnd.kubernetes.protobuf` (the "k8s\\0" envelope around runtime.Unknown) and
cannot be told otherwise, so the simulated server decodes those kinds with hand-written field
tables from k8s.io/api generated.proto. Responses are always JSON (kubectl accepts both).

LIMITATION: other kinds sent as protobuf (e.g. `kubectl create deployment`, `create role`)
get 415 with a message suggesting `kubectl apply -f`; a fix needs their field tables.
"""

import base64

MAGIC = b"k8s\x00"

# field number -> (json name, kind, sub-schema). kinds: str, bytes, int, bool, msg, map_ss,
# map_sb (string->bytes), rep_str, rep_msg
OWNER_REF = {1: ("kind", "str", None), 3: ("name", "str", None), 4: ("uid", "str", None),
             5: ("apiVersion", "str", None), 6: ("controller", "bool", None),
             7: ("blockOwnerDeletion", "bool", None)}
OBJECT_META = {1: ("name", "str", None), 2: ("generateName", "str", None),
               3: ("namespace", "str", None), 5: ("uid", "str", None),
               6: ("resourceVersion", "str", None), 7: ("generation", "int", None),
               10: ("deletionGracePeriodSeconds", "int", None),
               11: ("labels", "map_ss", None), 12: ("annotations", "map_ss", None),
               13: ("ownerReferences", "rep_msg", OWNER_REF),
               14: ("finalizers", "rep_str", None)}
LOCAL_REF = {1: ("name", "str", None)}
OBJECT_REF = {1: ("kind", "str", None), 2: ("namespace", "str", None),
              3: ("name", "str", None), 4: ("uid", "str", None),
              5: ("apiVersion", "str", None), 6: ("resourceVersion", "str", None),
              7: ("fieldPath", "str", None)}
SCHEMAS = {
    ("v1", "ConfigMap"): {1: ("metadata", "msg", OBJECT_META), 2: ("data", "map_ss", None),
                          3: ("binaryData", "map_sb", None), 4: ("immutable", "bool", None)},
    ("v1", "Secret"): {1: ("metadata", "msg", OBJECT_META), 2: ("data", "map_sb", None),
                       3: ("type", "str", None), 4: ("stringData", "map_ss", None),
                       5: ("immutable", "bool", None)},
    ("v1", "Namespace"): {1: ("metadata", "msg", OBJECT_META),
                          2: ("spec", "msg", {1: ("finalizers", "rep_str", None)})},
    ("v1", "ServiceAccount"): {1: ("metadata", "msg", OBJECT_META),
                               2: ("secrets", "rep_msg", OBJECT_REF),
                               3: ("imagePullSecrets", "rep_msg", LOCAL_REF),
                               4: ("automountServiceAccountToken", "bool", None)},
}


class ProtoError(Exception):
    pass


def _varint(b, i):
    shift = result = 0
    while True:
        if i >= len(b):
            raise ProtoError("truncated varint")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ProtoError("varint too long")


def _fields(b):
    """Yield (field number, wire type, value) of a message."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ProtoError("truncated field")
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ProtoError("unsupported wire type %d" % wt)
        yield num, wt, v


def _msg(b, schema):
    out = {}
    for num, wt, v in _fields(b):
        spec = schema.get(num)
        if spec is None:
            continue
        name, kind, sub = spec
        if kind == "str":
            out[name] = v.decode()
        elif kind == "bytes":
            out[name] = base64.b64encode(v).decode()
        elif kind == "int":
            out[name] = v if v < 2 ** 63 else v - 2 ** 64
        elif kind == "bool":
            out[name] = bool(v)
        elif kind == "msg":
            out[name] = _msg(v, sub)
        elif kind == "rep_str":
            out.setdefault(name, []).append(v.decode())
        elif kind == "rep_msg":
            out.setdefault(name, []).append(_msg(v, sub))
        elif kind in ("map_ss", "map_sb"):
            k = val = b""
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    k = v2
                elif n2 == 2:
                    val = v2
            out.setdefault(name, {})[k.decode()] = (
                val.decode() if kind == "map_ss" else base64.b64encode(val).decode())
    return out


def decode(body):
    """The JSON-equivalent dict of a protobuf request body; ProtoError if not supported."""
    if not body.startswith(MAGIC):
        raise ProtoError("missing the k8s protobuf envelope")
    api_version = kind = ""
    raw = b""
    for num, wt, v in _fields(body[len(MAGIC):]):
        if num == 1:
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    api_version = v2.decode()
                elif n2 == 2:
                    kind = v2.decode()
        elif num == 2:
            raw = v
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise ProtoError("%s %s" % (api_version, kind))
    obj = _msg(raw, schema)
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj
