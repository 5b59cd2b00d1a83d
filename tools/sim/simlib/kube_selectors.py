"""kube_selectors.py - label selectors (string and structured) and field selectors.

Parsing follows apimachinery's labels.Parse: comma = AND; `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
`k notin (a,b)`, `k`, `!k`, `k>5`, `k<5`. A malformed selector raises ValueError with a
message the HTTP layer turns into a 400 BadRequest.
"""

import re

_KEY = r"[A-Za-z0-9]([A-Za-z0-9_.\-/]*[A-Za-z0-9])?"
_VAL = r"([A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(_KEY + r"$")
_VAL_RE = re.compile(_VAL + r"$")


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _check_key(k, whole):
    if not _KEY_RE.match(k) or len(k) > 317:
        raise ValueError('unable to parse requirement: invalid label key "%s" in selector "%s"'
                         % (k, whole))


def _check_val(v, whole):
    if not _VAL_RE.match(v) or len(v) > 63:
        raise ValueError('unable to parse requirement: invalid label value: "%s" in selector "%s"'
                         % (v, whole))


def parse_label_selector(s):
    """Return a list of requirements (key, op, values); [] matches everything."""
    reqs = []
    if s is None or not s.strip():
        return reqs
    for part in _split_top(s):
        p = part.strip()
        if not p:
            raise ValueError('found \'\', expected: !, identifier, or \'end of string\'')
        m = re.match(r"^(\S+?)\s+(in|notin)\s*\((.*)\)$", p)
        if m:
            key, op, vals = m.group(1), m.group(2), m.group(3)
            _check_key(key, s)
            values = [v.strip() for v in vals.split(",")] if vals.strip() else []
            for v in values:
                _check_val(v, s)
            reqs.append((key, op, set(values)))
            continue
        if p.startswith("!"):
            key = p[1:].strip()
            _check_key(key, s)
            reqs.append((key, "!", None))
            continue
        m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$", p)
        if m:
            key, op, val = m.group(1), m.group(2), m.group(3).strip()
            _check_key(key, s)
            if op in ("<", ">"):
                try:
                    int(val)
                except ValueError:
                    raise ValueError("unable to parse requirement: for 'Gt', 'Lt' operators, "
                                     "the value must be an integer")
            else:
                _check_val(val, s)
            reqs.append((key, "=" if op == "==" else op, val))
            continue
        if re.match(r"^\S+$", p):
            _check_key(p, s)
            reqs.append((p, "exists", None))
            continue
        raise ValueError('unable to parse requirement: found \'%s\', expected: \',\', or '
                         '\'end of string\'' % p)
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, val in reqs:
        present = key in labels
        cur = labels.get(key)
        if op == "=":
            if cur != val:
                return False
        elif op == "!=":
            if present and cur == val:
                return False
        elif op == "in":
            if not present or cur not in val:
                return False
        elif op == "notin":
            if present and cur in val:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!":
            if present:
                return False
        elif op in ("<", ">"):
            try:
                n = int(cur)
            except (TypeError, ValueError):
                return False
            if op == "<" and not n < int(val):
                return False
            if op == ">" and not n > int(val):
                return False
    return True


def structured_to_reqs(sel):
    """A LabelSelector object ({matchLabels, matchExpressions}) as requirements."""
    reqs = []
    if not sel:
        return reqs
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "=", v))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = set(e.get("values") or [])
        if op == "In":
            reqs.append((e.get("key"), "in", vals))
        elif op == "NotIn":
            reqs.append((e.get("key"), "notin", vals))
        elif op == "Exists":
            reqs.append((e.get("key"), "exists", None))
        elif op == "DoesNotExist":
            reqs.append((e.get("key"), "!", None))
        else:
            raise ValueError('"%s" is not a valid label selector operator' % op)
    return reqs


# Field selectors: which paths each resource supports, as the real server does.
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS = {
    "events": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion",
               "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
               "reportingComponent", "source", "type"),
    "pods": ("status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "status.podIP", "status.nominatedNodeName"),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
}


def parse_field_selector(s, resource_key, kind):
    """Return [(path, op, value)]; ValueError for malformed input or an unsupported field."""
    out = []
    if s is None or not s.strip():
        return out
    allowed = _COMMON_FIELDS + _EXTRA_FIELDS.get(resource_key, ())
    for part in s.split(","):
        p = part.strip()
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", p)
        if not m:
            raise ValueError('invalid selector: \'%s\'; can\'t understand \'%s\'' % (s, p))
        path, op, val = m.group(1).strip(), m.group(2), m.group(3).strip()
        if path not in allowed:
            raise ValueError('field label not supported: %s' % path)
        out.append((path, "!=" if op == "!=" else "=", val))
    return out


def _field_value(obj, path):
    if path == "source":
        return (obj.get("source") or {}).get("component", "")
    cur = obj
    for seg in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(seg)
    if cur is None:
        return ""
    return str(cur)


def fields_match(reqs, obj):
    for path, op, val in reqs:
        cur = _field_value(obj, path)
        if op == "=" and cur != val:
            return False
        if op == "!=" and cur == val:
            return False
    return True
