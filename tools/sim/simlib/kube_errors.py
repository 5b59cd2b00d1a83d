"""kube_errors.py - ApiError and constructors for the Status objects the real API server sends.

Every error leaving the simulated API server is one of these, rendered with to_status(); a
handler exception that is not an ApiError becomes a 500 InternalError Status in kube_http.
"""


class ApiError(Exception):
    def __init__(self, status, reason, message, details=None, headers=None):
        super().__init__(message)
        self.status = int(status)
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def to_status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "code": self.status}
        if self.reason:
            st["reason"] = self.reason
        if self.details:
            st["details"] = self.details
        return st

    def __repr__(self):
        return "ApiError(%d %s: %s)" % (self.status, self.reason, self.message)


def _details(info, name):
    d = {}
    if name:
        d["name"] = name
    if info is not None:
        if info.group:
            d["group"] = info.group
        d["kind"] = info.plural
    return d


def _qual(info):
    return info.key if info is not None else "resource"


def not_found(info, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (_qual(info), name),
                    _details(info, name))


def not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {})


def namespace_not_found(ns):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                    {"name": ns, "kind": "namespaces"})


def already_exists(info, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (_qual(info), name),
                    _details(info, name))


def conflict(info, name, why=None):
    msg = ('Operation cannot be fulfilled on %s "%s": %s' %
           (_qual(info), name, why or "the object has been modified; please apply your "
            "changes to the latest version and try again"))
    return ApiError(409, "Conflict", msg, _details(info, name))


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def forbidden(msg, info=None, name=None):
    return ApiError(403, "Forbidden", msg, _details(info, name) if info else None)


def invalid(info, name, causes):
    """causes: [(field, reason, detail)] -> 422 Invalid naming each field like the real server.

    detail is the full cause message after the field, e.g. 'Required value' or
    'Invalid value: -1: spec.x in body should be greater than or equal to 0'.
    """
    kind = info.kind if info is not None else "Object"
    qual = kind + ("." + info.group if info is not None and info.group else "")
    parts = ["%s: %s" % (f, d) if f else d for f, _, d in causes]
    if len(parts) == 1:
        joined = parts[0]
    else:
        joined = "[" + ", ".join(parts) + "]"
    msg = '%s "%s" is invalid: %s' % (qual, name or "", joined)
    det = {"name": name or "", "kind": kind,
           "causes": [{"reason": r, "message": d, "field": f} for f, r, d in causes]}
    if info is not None and info.group:
        det["group"] = info.group
    return ApiError(422, "Invalid", msg, det)


def gone(msg):
    return ApiError(410, "Expired", msg)


def internal(msg):
    return ApiError(500, "InternalError", "Internal error occurred: %s" % msg,
                    {"causes": [{"message": msg}]})


def unsupported_media(msg):
    return ApiError(415, "UnsupportedMediaType", msg)


def method_not_allowed(msg="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", msg)
