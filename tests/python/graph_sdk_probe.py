"""Walk the twin's Graph routes through Microsoft's Python SDK (msgraph-sdk,
Kiota models) and report every property the SDK would lose or misplace.

Run by tests/twin_graph_sdk.rs against a running twin (demo seed). Input, as
environment variables: GRAPH_URL, GRAPH_TOKEN. Output: one JSON document on
stdout, {"routes": [...], "problems": [...]}; exit 0 even with problems (the
Rust test decides), 2 when the probe itself cannot run.

For each response, two questions:
- misplaced: a property the SDK model does not define lands in a model's
  `additional_data` (the twin invented or misspelt it: Graph's model would know it);
- lost: a non-empty property of the raw body is missing when the SDK writes
  the model back (the twin sends it where Graph's model does not expect it,
  or with a shape the model cannot hold).
Known SDK limitations (not twin faults) are recognised by sdk_limitation, with the reason.
"""

import asyncio
import json
import os
import sys

import httpx
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.synchronization_job_restart_criteria import (
    SynchronizationJobRestartCriteria,
)
from msgraph.generated.models.synchronization_job_restart_scope import (
    SynchronizationJobRestartScope,
)
from msgraph.generated.service_principals.item.synchronization.jobs.item.restart.restart_post_request_body import (
    RestartPostRequestBody,
)

def sdk_limitation(key, value):
    """Why a property the SDK drops is the SDK's fault, not the twin's (None: the twin's)."""
    if isinstance(value, str) and "," in value and key in ("discoverabilities", "flowTypes"):
        return ("a flag enum with several members: msgraph-sdk 1.65 parses only a single member "
                "(JsonParseNode.get_enum_value), so it drops the value")
    if key == "provisioningStepType" and value == "import":
        return ("Graph's provisioningStepType `import`: msgraph-sdk 1.65 names the member Import_ "
                "(a Python keyword) and cannot parse the value")
    return None


class StaticToken(AccessTokenProvider):
    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


def walk_additional(obj, path, out):
    """Every additional_data key (other than OData annotations) under obj."""
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            walk_additional(item, f"{path}[{i}]", out)
        return
    if not isinstance(obj, Parsable):
        return
    extra = getattr(obj, "additional_data", None) or {}
    for key in extra:
        if not key.startswith("@odata."):
            out.append(f"{path}.{key}")
    for name, value in vars(obj).items():
        if name in ("additional_data", "backing_store"):
            continue
        walk_additional(value, f"{path}.{name}", out)


def written(model):
    w = JsonSerializationWriter()
    w.write_object_value(None, model)
    return json.loads(w.get_serialized_content().decode("utf-8"))


def empty(v):
    return v is None or v == [] or v == {} or v == ""


def walk_lost(raw, back, path, out):
    if isinstance(raw, dict):
        if not isinstance(back, dict):
            out.append(path or "/")
            return
        for k, v in raw.items():
            if k.startswith("@odata.") or empty(v):
                continue
            if k not in back:
                if not sdk_limitation(k, v):
                    out.append(f"{path}.{k}")
            else:
                walk_lost(v, back[k], f"{path}.{k}", out)
    elif isinstance(raw, list):
        if not isinstance(back, list) or len(back) != len(raw):
            out.append(path)
            return
        for i, (a, b) in enumerate(zip(raw, back)):
            walk_lost(a, b, f"{path}[{i}]", out)


async def main():
    url, token = os.environ["GRAPH_URL"], os.environ["GRAPH_TOKEN"]
    bodies = []

    async def keep(response):
        await response.aread()
        bodies.append(response)

    http = httpx.AsyncClient(event_hooks={"response": [keep]}, timeout=30)
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)), client=http)
    adapter.base_url = url
    g = GraphServiceClient(request_adapter=adapter)
    eventual = RequestConfiguration()
    eventual.headers.add("ConsistencyLevel", "eventual")

    routes, problems = [], []

    async def probe(name, call):
        bodies.clear()
        try:
            model = await call()
        except Exception as e:  # a route the SDK models that the twin refuses
            problems.append({"route": name, "problem": "refused", "detail": f"{type(e).__name__}: {e}"[:400]})
            return None
        routes.append(name)
        raw = None
        if bodies and bodies[-1].content:
            try:
                raw = json.loads(bodies[-1].content)
            except ValueError:
                raw = None  # $count answers text/plain
        if isinstance(model, Parsable):
            extra = []
            walk_additional(model, "", extra)
            for p in extra:
                problems.append({"route": name, "problem": "misplaced", "path": p})
            if isinstance(raw, dict):
                lost = []
                walk_lost(raw, written(model), "", lost)
                for p in lost:
                    problems.append({"route": name, "problem": "lost", "path": p})
        return model

    sps = await probe("GET /servicePrincipals", lambda: g.service_principals.get())
    gallery = next(sp for sp in sps.value if (sp.display_name or "") == "Coda")
    sp = g.service_principals.by_service_principal_id(gallery.id)
    await probe("GET /servicePrincipals/{id}", lambda: sp.get())
    apps = await probe("GET /applications", lambda: g.applications.get())
    await probe("GET /applications/{id}", lambda: g.applications.by_application_id(apps.value[0].id).get())
    await probe("GET /servicePrincipals/{id}/appRoleAssignedTo", lambda: sp.app_role_assigned_to.get())
    await probe("GET …/synchronization/templates", lambda: sp.synchronization.templates.get())
    jobs = await probe("GET …/synchronization/jobs", lambda: sp.synchronization.jobs.get())
    job = sp.synchronization.jobs.by_synchronization_job_id(jobs.value[0].id)
    await probe("GET …/jobs/{id}", lambda: job.get())
    await probe("GET …/jobs/{id}/schema", lambda: job.schema.get())
    await probe("POST …/jobs/{id}/pause", lambda: job.pause.post())
    await probe("POST …/jobs/{id}/start", lambda: job.start.post())
    restart = RestartPostRequestBody()
    restart.criteria = SynchronizationJobRestartCriteria()
    restart.criteria.reset_scope = SynchronizationJobRestartScope.Full
    await probe("POST …/jobs/{id}/restart", lambda: job.restart.post(restart))
    users = await probe("GET /users", lambda: g.users.get())
    await probe("GET /users/{id}", lambda: g.users.by_user_id(users.value[0].id).get())
    await probe("GET /users/$count", lambda: g.users.count.get(request_configuration=eventual))
    groups = await probe("GET /groups", lambda: g.groups.get())
    await probe("GET /groups/$count", lambda: g.groups.count.get(request_configuration=eventual))
    for grp in groups.value:
        gr = g.groups.by_group_id(grp.id)
        await probe("GET /groups/{id}", lambda: gr.get())
        await probe("GET /groups/{id}/members", lambda: gr.members.get())
        await probe("GET /groups/{id}/members/microsoft.graph.user", lambda: gr.members.graph_user.get())
        await probe("GET /groups/{id}/members/microsoft.graph.group", lambda: gr.members.graph_group.get())
        await probe("GET /groups/{id}/members/$count", lambda: gr.members.count.get(request_configuration=eventual))
        await probe("GET /groups/{id}/transitiveMembers", lambda: gr.transitive_members.get())
        await probe(
            "GET /groups/{id}/transitiveMembers/microsoft.graph.user",
            lambda: gr.transitive_members.graph_user.get(),
        )
        await probe(
            "GET /groups/{id}/transitiveMembers/microsoft.graph.group",
            lambda: gr.transitive_members.graph_group.get(),
        )
        await probe(
            "GET /groups/{id}/transitiveMembers/$count",
            lambda: gr.transitive_members.count.get(request_configuration=eventual),
        )
    await probe("GET /auditLogs/provisioning", lambda: g.audit_logs.provisioning.get())
    await http.aclose()
    # One line per distinct (route, problem, path) so a tenant-wide defect reads once.
    seen, unique = set(), []
    for p in problems:
        key = json.dumps(p, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    print(json.dumps({"routes": sorted(set(routes)), "problems": unique}, indent=1))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:
        print(f"graph_sdk_probe: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
