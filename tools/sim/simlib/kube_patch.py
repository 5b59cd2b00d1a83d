"""kube_patch.py - JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
patch (for built-in kinds: lists merged by key, as the Go struct tags say).

All functions return a new document and raise PatchError (-> 422, or 400 for a malformed
patch, per `.code`).
"""

import copy


class PatchError(Exception):
    def __init__(self, msg, code=422):
        super().__init__(msg)
        self.code = code


# ------------------------------------------------------------------ merge patch
def merge_patch(doc, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ------------------------------------------------------------------ JSON patch
def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _pointer(path):
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError('invalid JSON pointer "%s"' % path, 400)
    return [_unescape(t) for t in path[1:].split("/")]


def _walk(doc, toks, path):
    cur = doc
    for t in toks:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError('doc is missing path: "%s": missing value' % path)
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                i = int(t)
            except ValueError:
                raise PatchError('doc is missing path: "%s": invalid index' % path)
            if i < 0 or i >= len(cur):
                raise PatchError('doc is missing path: "%s": index out of range' % path)
            cur = cur[i]
        else:
            raise PatchError('doc is missing path: "%s": missing value' % path)
    return cur


def _add(doc, toks, value, path, replace=False):
    if not toks:
        return copy.deepcopy(value)
    parent = _walk(doc, toks[:-1], path)
    last = toks[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError('replace operation does not apply: doc is missing key: %s'
                             % path)
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(copy.deepcopy(value))
            return doc
        try:
            i = int(last)
        except ValueError:
            raise PatchError('doc is missing path: "%s": invalid index' % path)
        if replace:
            if i < 0 or i >= len(parent):
                raise PatchError('replace operation does not apply: doc is missing key: %s'
                                 % path)
            parent[i] = copy.deepcopy(value)
        else:
            if i < 0 or i > len(parent):
                raise PatchError('add operation does not apply: doc is missing path: "%s"'
                                 % path)
            parent.insert(i, copy.deepcopy(value))
    else:
        raise PatchError('add operation does not apply: doc is missing path: "%s"' % path)
    return doc


def _remove(doc, toks, path):
    if not toks:
        raise PatchError("remove operation does not apply: cannot remove the root", 422)
    parent = _walk(doc, toks[:-1], path)
    last = toks[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError('remove operation does not apply: doc is missing path: "%s"'
                             % path)
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            i = int(last)
        except ValueError:
            raise PatchError('remove operation does not apply: doc is missing path: "%s"'
                             % path)
        if i < 0 or i >= len(parent):
            raise PatchError('remove operation does not apply: doc is missing path: "%s"'
                             % path)
        return parent.pop(i)
    raise PatchError('remove operation does not apply: doc is missing path: "%s"' % path)


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch",
                         400)
    if len(ops) > 10000:
        raise PatchError("The allowed maximum operations in a JSON patch is 10000, got %d"
                         % len(ops), 413)
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("Unexpected kind: missing op", 400)
        kind = op["op"]
        path = op.get("path")
        if path is None:
            raise PatchError("%s operation missing path" % kind, 400)
        toks = _pointer(path)
        if kind == "add":
            if "value" not in op:
                raise PatchError("add operation missing value", 400)
            doc = _add(doc, toks, op["value"], path)
        elif kind == "remove":
            _remove(doc, toks, path)
        elif kind == "replace":
            if "value" not in op:
                raise PatchError("replace operation missing value", 400)
            doc = _add(doc, toks, op["value"], path, replace=True)
        elif kind in ("move", "copy"):
            frm = op.get("from")
            if frm is None:
                raise PatchError("%s operation missing from" % kind, 400)
            ftoks = _pointer(frm)
            if kind == "move":
                val = _remove(doc, ftoks, frm)
            else:
                val = copy.deepcopy(_walk(doc, ftoks, frm))
            doc = _add(doc, toks, val, path)
        elif kind == "test":
            try:
                cur = _walk(doc, toks, path)
            except PatchError:
                cur = _Missing
            if cur != op.get("value"):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            raise PatchError("Unexpected kind: %s" % kind, 400)
    return doc


class _Missing:
    pass


# ------------------------------------------------------------------ strategic merge patch
# patchMergeKey per field name (patchStrategy "merge" in the Go types); a list not named
# here is replaced wholesale, as for an atomic list.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "ownerReferences": "uid",
    "conditions": "type", "hostAliases": "ip", "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey", "ports": "containerPort",
    "webhooks": "name", "schedulingGates": "name",
    "readinessGates": "conditionType", "hostIPs": "ip", "podIPs": "ip",
}
PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(name, parents):
    if name == "ports" and parents and parents[-1] == "spec" and "containers" not in parents:
        return "port"       # Service ports merge on port
    return MERGE_KEYS.get(name)


def strategic_merge_patch(doc, patch):
    if not isinstance(patch, dict):
        raise PatchError("json: cannot unmarshal into a strategic merge patch: not an object",
                         400)
    return _smp(doc if isinstance(doc, dict) else {}, patch, [])


def _smp(doc, patch, parents):
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(doc)
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in (v or [])]
            continue
        if k.startswith("$") or k == "$retainKeys":
            continue
        if v is None:
            out.pop(k, None)
            continue
        cur = out.get(k)
        if isinstance(v, dict):
            r = _smp(cur if isinstance(cur, dict) else {}, v, parents + [k])
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list):
            key = _merge_key(k, parents)
            if key and all(isinstance(x, dict) for x in v):
                out[k] = _merge_list(cur if isinstance(cur, list) else [], v, key,
                                     parents + [k])
            elif k in PRIMITIVE_MERGE:
                base = list(cur) if isinstance(cur, list) else []
                for x in v:
                    if x not in base:
                        base.append(x)
                out[k] = base
            else:
                out[k] = copy.deepcopy(v)
        else:
            out[k] = copy.deepcopy(v)
    for f, order in orders.items():
        key = _merge_key(f, parents)
        lst = out.get(f)
        if not isinstance(lst, list) or not isinstance(order, list):
            continue
        if key:
            want = [o.get(key) for o in order if isinstance(o, dict)]
            pos = {w: i for i, w in enumerate(want)}
            lst.sort(key=lambda x: pos.get(x.get(key) if isinstance(x, dict) else None,
                                           len(pos)))
        elif all(isinstance(w, (str, int, float, bool)) for w in order):
            pos = {w: i for i, w in enumerate(order)}
            lst.sort(key=lambda x: pos.get(x, len(pos)) if isinstance(x, (str, int, float,
                                                                          bool))
                     else len(pos))
    return out


def _merge_list(cur, patch, key, parents):
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy({k: v for k, v in x.items() if k != "$patch"})
                for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace"
                                       and len(x) == 1)]
    out = [copy.deepcopy(x) for x in cur]
    for item in patch:
        kv = item.get(key)
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == kv),
                   None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_smp({}, item, parents) or {})
        else:
            out[idx] = _smp(out[idx], item, parents)
    return out
