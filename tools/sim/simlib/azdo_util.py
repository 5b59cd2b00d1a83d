"""azdo_util.py - small pure helpers for the simulated Azure DevOps service.

Wire details (timestamps, error bodies, demand syntax) follow
shared/reference/azure-devops-api.md; the section numbers below refer to it.
"""

import functools
import json
import re
import time
import uuid

# ---------------------------------------------------------------------------------------------
# Time

def iso(t):
    """Formats epoch seconds as Azure DevOps does: UTC, 'Z', 0-7 fraction digits (§1).

    .NET writes 7 fraction digits and drops trailing zeros, so the number of digits varies from
    one timestamp to the next; clients must cope with that, and this makes them.
    """
    if t is None:
        return None
    whole = int(t)
    frac = int(round((t - whole) * 10_000_000))
    if frac >= 10_000_000:
        whole += 1
        frac -= 10_000_000
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    digits = ("%07d" % frac).rstrip("0")
    return base + ("." + digits if digits else "") + "Z"


def new_guid():
    return str(uuid.uuid4())


# ---------------------------------------------------------------------------------------------
# Error bodies (§11)

ERROR_TYPES = {
    # typeKey -> .NET type name used in typeName
    "VssVersionNotSpecifiedException": "Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, Microsoft.VisualStudio.Services.WebApi",
    "VssInvalidApiVersionException": "Microsoft.VisualStudio.Services.WebApi.VssInvalidApiVersionException, Microsoft.VisualStudio.Services.WebApi",
    "VssVersionOutOfRangeException": "Microsoft.VisualStudio.Services.WebApi.VssVersionOutOfRangeException, Microsoft.VisualStudio.Services.WebApi",
    "VssInvalidPreviewVersionException": "Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi",
    "VssPropertyValidationException": "Microsoft.VisualStudio.Services.Common.VssPropertyValidationException, Microsoft.VisualStudio.Services.Common",
    "UnauthorizedRequestException": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
    "AccessCheckException": "Microsoft.VisualStudio.Services.Security.AccessCheckException, Microsoft.VisualStudio.Services.WebApi",
    "RequestBlockedException": "Microsoft.TeamFoundation.Framework.Server.RequestBlockedException, Microsoft.TeamFoundation.Framework.Server",
    "VssServiceException": "Microsoft.VisualStudio.Services.Common.VssServiceException, Microsoft.VisualStudio.Services.Common",
    "VssResourceNotFoundException": "Microsoft.VisualStudio.Services.WebApi.VssResourceNotFoundException, Microsoft.VisualStudio.Services.WebApi",
    "OrganizationNotFoundException": "Microsoft.VisualStudio.Services.Organization.OrganizationNotFoundException, Microsoft.VisualStudio.Services.WebApi",
    "TaskAgentPoolNotFoundException": "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentPoolNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi",
    "TaskAgentNotFoundException": "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi",
    "TaskAgentExistsException": "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentExistsException, Microsoft.TeamFoundation.DistributedTask.WebApi",
    "TaskAgentJobNotFoundException": "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentJobNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi",
    "TaskAgentBusyException": "Microsoft.TeamFoundation.DistributedTask.WebApi.TaskAgentBusyException, Microsoft.TeamFoundation.DistributedTask.WebApi",
    "ArgumentException": "System.ArgumentException, mscorlib",
}


def error_body(type_key, message, bom=False):
    """The 'WrappedException' JSON body of a non-2xx answer, as bytes."""
    body = {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": ERROR_TYPES.get(type_key, "Microsoft.VisualStudio.Services.Common.VssServiceException, Microsoft.VisualStudio.Services.Common"),
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    }
    data = json.dumps(body).encode()
    # Some real 401 bodies start with a UTF-8 BOM (§1); clients must strip it.
    return (b"\xef\xbb\xbf" + data) if bom else data


SIGN_IN_PAGE = b"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="utf-8">
<title>Azure DevOps Services | Sign In</title>
</head>
<body>
<div id="signin">
<h1>Azure DevOps</h1>
<p>Sign in to your account to continue.</p>
<form method="post" action="/_signin"><input type="submit" value="Sign in"></form>
</div>
<!-- simulated: the service answers unauthenticated API calls with this page and HTTP 203 -->
</body>
</html>
"""


# ---------------------------------------------------------------------------------------------
# api-version (§1)

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(-preview(\.\d+)?)?$")
LATEST_RELEASED = (7, 1)
LATEST_PREVIEW = (7, 2)


def check_api_version(value, method):
    """Returns None when the request's api-version is acceptable, else (status, typeKey, message).

    value is the api-version from the query string or the Accept header (None when absent).
    """
    if value is None or value == "":
        if method == "GET":
            return None  # served with the latest version, as the real service does
        return (400, "VssVersionNotSpecifiedException",
                "No api-version was supplied for the \"%s\" request. The version must be "
                "supplied either as part of the Accept header (e.g. \"application/json; "
                "api-version=1.0\") or as a query parameter (e.g. \"?api-version=1.0\")." % method)
    m = _VERSION_RE.match(value.strip())
    if not m:
        return (400, "VssInvalidApiVersionException",
                "The api-version '%s' is not valid. The api-version must be of the form "
                "'{major}.{minor}[-{stage}[.{resourceVersion}]]', for example '1.0'." % value)
    ver = (int(m.group(1)), int(m.group(2)))
    preview = m.group(3) is not None
    if ver > LATEST_PREVIEW or ver < (1, 0):
        return (400, "VssVersionOutOfRangeException",
                "The requested REST API version of %s is out of range for this server. The "
                "latest REST API version this server supports is %d.%d-preview." % (
                    value, LATEST_PREVIEW[0], LATEST_PREVIEW[1]))
    if ver > LATEST_RELEASED and not preview:
        return (400, "VssInvalidPreviewVersionException",
                "The requested version \"%s\" of the resource is under preview. The "
                "-preview flag must be supplied in the api-version for such requests. For "
                "example: \"%s-preview\"" % (value, value))
    return None


def api_version_from(query, headers):
    v = query.get("api-version")
    if v:
        return v
    accept = headers.get("Accept") or ""
    for part in accept.split(";"):
        part = part.strip()
        if part.lower().startswith("api-version="):
            return part.split("=", 1)[1].strip()
    return None


# ---------------------------------------------------------------------------------------------
# Demands (§6)

_DEMAND_RE = re.compile(r"^\s*(\S+)(?:\s+-(\S+)\s+(.*?))?\s*$")
KNOWN_OPS = {"equals": "equals", "gtversion": "gtVersion"}


class DemandError(ValueError):
    pass


def parse_demand(text):
    """'java' -> ('java', None, None); 'Agent.OS -equals Linux' -> ('Agent.OS', 'equals', 'Linux')."""
    if not isinstance(text, str):
        raise DemandError("a demand must be a string, got %r" % (text,))
    m = _DEMAND_RE.match(text)
    if not m or (m.group(2) is not None and not m.group(3)):
        raise DemandError("'%s' is not a valid demand" % text)
    name, op, value = m.group(1), m.group(2), m.group(3)
    if op is None:
        if " -" in text.strip():
            raise DemandError("'%s' is not a valid demand: an operator needs a value" % text)
        return (name, None, None)
    key = op.lower()
    if key not in KNOWN_OPS:
        raise DemandError("'%s' is not a valid demand: unknown operator -%s" % (text, op))
    return (name, KNOWN_OPS[key], value)


@functools.lru_cache(maxsize=4096)
def parse_version(text):
    parts = str(text).strip().split(".")
    out = []
    for p in parts:
        if not p.isdigit():
            return None
        out.append(int(p))
    while len(out) < 4:
        out.append(0)
    return tuple(out)


def demand_satisfied(demand, caps_lower):
    """demand is a parsed tuple; caps_lower maps lower-cased capability name -> value."""
    name, op, value = demand
    cap = caps_lower.get(name.lower())
    if cap is None:
        return False
    if op is None:
        return True
    if op == "equals":
        return str(cap).lower() == value.lower()
    if op == "gtVersion":
        have, want = parse_version(cap), parse_version(value)
        return have is not None and want is not None and have >= want
    return False


def demands_satisfied(parsed_demands, caps_lower):
    return all(demand_satisfied(d, caps_lower) for d in parsed_demands)


def truthy(v):
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    return str(v).strip().lower() in ("1", "true", "yes", "on")
