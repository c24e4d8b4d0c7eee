"""Drives a running Pier through Koyeb's own Python SDK (koyeb-sdk, the generated `koyeb.api` classes).

Run by test/compat/sdk.slow.test.ts with the venv's python from scripts/install-koyeb-clients.sh. Prints one JSON line
per step: {"step", "status": "ok"|"failed"|"blocked", "detail", "error", "request", "response"}. A failed step carries
the exact request the SDK sent and the response it got, so the API can be fixed rather than the test loosened.
Every response goes through the SDK's pydantic models, so a wrong field type or enum value fails the step.

Environment: PIER_URL, PIER_TOKEN (required); PIER_COMPAT_IMAGE (docker image), PIER_COMPAT_PORT (container port,
default 8000), PIER_COMPAT_DOCKER (JSON {"entrypoint": [...], "command": "...", "args": [...]}, optional),
PIER_COMPAT_TIMEOUT (seconds per wait, default 120), PIER_COMPAT_PREFIX (resource name prefix).
"""

import json
import os
import sys
import time
import traceback

from koyeb import api
from koyeb.api import models as m
from koyeb.api.exceptions import ApiException, NotFoundException

URL = os.environ["PIER_URL"]
TOKEN = os.environ["PIER_TOKEN"]
IMAGE = os.environ.get("PIER_COMPAT_IMAGE", "pier-test/busybox:1")
PORT = int(os.environ.get("PIER_COMPAT_PORT", "8000"))
DOCKER = json.loads(os.environ.get("PIER_COMPAT_DOCKER", "{}") or "{}")
TIMEOUT = float(os.environ.get("PIER_COMPAT_TIMEOUT", "120"))
PREFIX = os.environ.get("PIER_COMPAT_PREFIX", "sdk")
POLL = 0.5
ACTIVE_INSTANCE_STATUSES = ["ALLOCATING", "STARTING", "HEALTHY", "UNHEALTHY", "STOPPING"]

# The last exchange on the wire, attached to a failed step's report.
last = {"request": None, "response": None}


def _install_wire_recorder(client):
    """Wraps ApiClient.call_api so each step can report the exact request and the raw response."""
    original = client.call_api

    def call_api(method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        shown = body
        if isinstance(body, dict) and "value" in body:
            shown = {**body, "value": "***"}  # secret values stay out of reports
        last["request"] = {"method": method, "url": url.replace(URL, ""), "body": shown}
        last["response"] = None
        resp = original(method, url, header_params, body, post_params, _request_timeout)
        resp.read()
        text = resp.data.decode("utf-8", "replace") if resp.data is not None else ""
        last["response"] = {"status": resp.status, "content_type": resp.getheader("content-type"), "body": text[:3000]}
        return resp

    client.call_api = call_api


def emit(report):
    print(json.dumps(report, default=str), flush=True)


state = {}
failed_steps = set()


def step(name, fn, needs=()):
    """Runs one step unless a step it needs failed; records its outcome as one JSON line."""
    missing = [n for n in needs if n in failed_steps or n not in state]
    if missing:
        failed_steps.add(name)
        emit({"step": name, "status": "blocked", "error": "blocked by failed step(s): " + ", ".join(missing)})
        return None
    last["request"] = last["response"] = None
    started = time.monotonic()
    try:
        result = fn()
        state[name] = result
        emit({"step": name, "status": "ok", "seconds": round(time.monotonic() - started, 2),
              "detail": result if isinstance(result, (str, int, dict, list)) else None})
        return result
    except Exception as exc:  # noqa: BLE001 - every failure is reported with its wire exchange
        failed_steps.add(name)
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AssertionError):
            error = "assertion failed: " + (str(exc) or traceback.format_exc(limit=1).strip().splitlines()[-1])
        emit({"step": name, "status": "failed", "seconds": round(time.monotonic() - started, 2),
              "error": error[:4000], "request": last["request"],
              "response": last["response"]})
        return None


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def wait_for(what, probe, timeout=TIMEOUT):
    """Polls probe() until it returns a truthy value; raises with the last observation when time runs out."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        done, seen = probe()
        if done:
            return seen
        time.sleep(POLL)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {seen}")


def main():
    cfg = api.Configuration(host=URL, api_key={"Bearer": TOKEN}, api_key_prefix={"Bearer": "Bearer"})
    client = api.ApiClient(cfg)
    _install_wire_recorder(client)
    apps = api.AppsApi(client)
    services = api.ServicesApi(client)
    deployments = api.DeploymentsApi(client)
    regional = api.RegionalDeploymentsApi(client)
    instances = api.InstancesApi(client)
    secrets = api.SecretsApi(client)
    logs = api.LogsApi(client)
    regions_api = api.CatalogRegionsApi(client)
    catalog_instances = api.CatalogInstancesApi(client)

    app_name = f"{PREFIX}-app"
    svc_name = f"{PREFIX}-web"
    secret_name = f"{PREFIX}-secret"

    # --- catalog -----------------------------------------------------------------------------------------------
    def list_regions():
        reply = regions_api.list_regions()
        ids = [r.id for r in reply.regions or []]
        check(ids, f"no regions in the catalog: {reply}")
        return ids[0]

    def list_instance_types():
        reply = catalog_instances.list_catalog_instances()
        ids = [i.id for i in reply.instances or []]
        check(ids, f"no instance types in the catalog: {reply}")
        return "nano" if "nano" in ids else ids[0]

    step("catalog.list_regions", list_regions)
    step("catalog.list_catalog_instances", list_instance_types)
    region = state.get("catalog.list_regions") or "was"
    instance_type = state.get("catalog.list_catalog_instances") or "nano"

    # --- secrets -----------------------------------------------------------------------------------------------
    def create_secret():
        reply = secrets.create_secret(m.CreateSecret(name=secret_name, type=m.SecretType.SIMPLE, value="first-value"))
        check(reply.secret and reply.secret.id, f"no secret in reply: {reply}")
        check(reply.secret.name == secret_name, f"name {reply.secret.name!r}")
        check("first-value" not in json.dumps(reply.to_dict(), default=str), "create reply leaks the secret value")
        return reply.secret.id

    step("secrets.create_secret", create_secret)

    def conflict_readable():
        # 409 is not a status the spec declares: the SDK decodes the body as google.rpc.Status (an int32 code).
        try:
            secrets.create_secret(m.CreateSecret(name=secret_name, type=m.SecretType.SIMPLE, value="again"))
        except ApiException as exc:
            check(exc.status == 409, f"status {exc.status}")
            check(isinstance(exc.data, m.GoogleRpcStatus), f"body not decoded as GoogleRpcStatus: {exc.data!r} {exc.body}")
            check(exc.data.code == 6 and "already exists" in (exc.data.message or ""), f"decoded {exc.data}")
            return exc.data.message
        raise AssertionError("a duplicate secret name was accepted")

    step("errors: duplicate secret -> 409 google.rpc.Status", conflict_readable, needs=["secrets.create_secret"])

    def list_secrets():
        reply = secrets.list_secrets(name=secret_name)
        ids = [s.id for s in reply.secrets or []]
        check(state["secrets.create_secret"] in ids, f"secret missing from list: {ids}")
        check("first-value" not in json.dumps(reply.to_dict(), default=str), "list leaks the secret value")
        return len(ids)

    step("secrets.list_secrets", list_secrets, needs=["secrets.create_secret"])

    def get_secret():
        reply = secrets.get_secret(state["secrets.create_secret"])
        check(reply.secret.name == secret_name, f"name {reply.secret.name!r}")
        check(reply.secret.type == m.SecretType.SIMPLE, f"type {reply.secret.type!r}")
        return reply.secret.id

    step("secrets.get_secret", get_secret, needs=["secrets.create_secret"])

    def update_secret():
        reply = secrets.update_secret(state["secrets.create_secret"], m.Secret(name=secret_name, value="second-value"))
        check(reply.secret.id == state["secrets.create_secret"], f"id changed: {reply.secret.id}")
        return reply.secret.id

    step("secrets.update_secret", update_secret, needs=["secrets.create_secret"])

    def reveal_secret():
        # Koyeb answers {"value": "<string>"} for a simple secret, but the generated RevealSecretReply types `value`
        # as a dict (spec: google.protobuf.Value), so the typed call cannot decode Koyeb's own reply either. Read the
        # raw body, exactly as koyeb-cli's `secrets reveal` does (pkg/koyeb/secrets_reveal.go).
        raw = secrets.reveal_secret_without_preload_content(state["secrets.create_secret"], {})
        raw.read()
        last["response"] = {"status": raw.status, "body": "<secret value not shown>"}
        check(raw.status == 200, f"status {raw.status}")
        value = json.loads(raw.data).get("value")
        check(value == "second-value", "revealed value is not the updated value")
        return "revealed"

    step("secrets.reveal_secret", reveal_secret, needs=["secrets.update_secret"])

    # --- apps --------------------------------------------------------------------------------------------------
    def create_app():
        reply = apps.create_app(m.CreateApp(name=app_name))
        check(reply.app and reply.app.id, f"no app in reply: {reply}")
        check(reply.app.name == app_name, f"name {reply.app.name!r}")
        return reply.app.id

    step("apps.create_app", create_app)

    def get_app():
        reply = apps.get_app(state["apps.create_app"])
        check(reply.app.name == app_name, f"name {reply.app.name!r}")
        return reply.app.status

    step("apps.get_app", get_app, needs=["apps.create_app"])

    def list_apps():
        # The CLI resolves names by paging `limit=100&offset=N` until offset >= count.
        reply = apps.list_apps(limit="100", offset="0")
        ids = [a.id for a in reply.apps or []]
        check(state["apps.create_app"] in ids, f"app missing from list: {ids}")
        check(reply.count is not None and reply.count >= len(ids), f"count {reply.count} < {len(ids)} items")
        by_name = apps.list_apps(name=app_name)
        check([a.id for a in by_name.apps or []] == [state["apps.create_app"]], f"name filter: {by_name.apps}")
        return reply.count

    step("apps.list_apps", list_apps, needs=["apps.create_app"])

    def update_app():
        renamed = app_name + "-x"
        reply = apps.update_app(state["apps.create_app"], m.UpdateApp(name=renamed))
        check(reply.app.name == renamed, f"rename: {reply.app.name!r}")
        back = apps.update_app2(state["apps.create_app"], m.UpdateApp(name=app_name))
        check(back.app.name == app_name, f"rename back (PATCH): {back.app.name!r}")
        return back.app.name

    step("apps.update_app", update_app, needs=["apps.create_app"])

    # --- services ----------------------------------------------------------------------------------------------
    def definition(greeting):
        docker = m.DockerSource(image=IMAGE, entrypoint=DOCKER.get("entrypoint"), command=DOCKER.get("command"),
                                args=DOCKER.get("args"))
        return m.DeploymentDefinition(
            name=svc_name,
            type=m.DeploymentDefinitionType.WEB,
            docker=docker,
            ports=[m.DeploymentPort(port=PORT, protocol="http")],
            routes=[m.DeploymentRoute(port=PORT, path="/")],
            env=[m.DeploymentEnv(key="GREETING", value=greeting), m.DeploymentEnv(key="SECRET_ENV", secret=secret_name)],
            regions=[region],
            scalings=[m.DeploymentScaling(min=1, max=1)],
            instance_types=[m.DeploymentInstanceType(type=instance_type)],
            health_checks=[m.DeploymentHealthCheck(grace_period=5, interval=2, timeout=2, restart_limit=3,
                                                   http=m.HTTPHealthCheck(port=PORT, path="/"))],
        )

    def dry_run():
        before = services.list_services(app_id=state["apps.create_app"]).count or 0
        probe = definition("dry")
        probe.name = svc_name + "-dry"
        services.create_service(m.CreateService(app_id=state["apps.create_app"], definition=probe), dry_run=True)
        after = services.list_services(app_id=state["apps.create_app"]).count or 0
        check(after == before, f"dry_run created something: count {before} -> {after}")
        return "nothing written"

    step("services.create_service(dry_run)", dry_run, needs=["apps.create_app", "secrets.create_secret"])

    def create_service():
        reply = services.create_service(m.CreateService(app_id=state["apps.create_app"], definition=definition("hello")))
        svc = reply.service
        check(svc and svc.id, f"no service in reply: {reply}")
        check(svc.name == svc_name and svc.app_id == state["apps.create_app"], f"{svc.name=} {svc.app_id=}")
        check(svc.type == m.ServiceType.WEB, f"type {svc.type!r}")
        check(svc.latest_deployment_id, "no latest_deployment_id")
        state["deployment.1"] = svc.latest_deployment_id
        return svc.id

    step("services.create_service", create_service, needs=["apps.create_app", "secrets.create_secret"])

    def wait_deployment_healthy(deployment_id):
        def probe():
            svc = services.get_service(state["services.create_service"]).service
            dep = deployments.get_deployment(deployment_id).deployment
            seen = f"service {svc.status.value} {svc.messages}; deployment {dep.status.value} {dep.messages}"
            if dep.status in (m.DeploymentStatus.ERROR, m.DeploymentStatus.CANCELED, m.DeploymentStatus.STOPPED):
                raise AssertionError("deployment failed: " + seen)
            healthy = svc.status == m.ServiceStatus.HEALTHY and dep.status == m.DeploymentStatus.HEALTHY
            return healthy and svc.active_deployment_id == deployment_id, seen
        return wait_for(f"deployment {deployment_id} HEALTHY and active", probe)

    step("wait: first deployment HEALTHY", lambda: wait_deployment_healthy(state["deployment.1"]),
         needs=["services.create_service"])

    def get_service():
        svc = services.get_service(state["services.create_service"]).service
        check(svc.app_id == state["apps.create_app"], f"app_id {svc.app_id}")
        check(isinstance(svc.version, str) or svc.version is None, "version must be a string")
        return svc.status.value

    step("services.get_service", get_service, needs=["services.create_service"])

    def list_services():
        reply = services.list_services(app_id=state["apps.create_app"], limit="100", offset="0")
        ids = [s.id for s in reply.services or []]
        check(ids == [state["services.create_service"]], f"services of the app: {ids}")
        by_name = services.list_services(name=svc_name, app_id=state["apps.create_app"])
        check([s.id for s in by_name.services or []] == ids, f"name filter: {by_name.services}")
        return reply.count

    step("services.list_services", list_services, needs=["services.create_service"])

    def list_filters():
        # `ids` on every list the SDK declares it for, and `regions` on services: each must narrow the list.
        svc_id, app_id, dep_id = state["services.create_service"], state["apps.create_app"], state["deployment.1"]
        got = [s.id for s in services.list_services(ids=[svc_id]).services or []]
        check(got == [svc_id], f"list_services(ids): {got}")
        check(services.list_services(ids=[app_id]).count == 0, "list_services(ids=<an app id>) matched a service")
        check([a.id for a in apps.list_apps(ids=[app_id]).apps or []] == [app_id], "list_apps(ids)")
        check([d.id for d in deployments.list_deployments(ids=[dep_id]).deployments or []] == [dep_id], "list_deployments(ids)")
        rds = regional.list_regional_deployments(deployment_id=dep_id).regional_deployments or []
        check([r.id for r in regional.list_regional_deployments(ids=[rds[0].id]).regional_deployments or []] == [rds[0].id],
              "list_regional_deployments(ids)")
        secret_id = state["secrets.create_secret"]
        check([x.id for x in secrets.list_secrets(ids=[secret_id]).secrets or []] == [secret_id], "list_secrets(ids)")
        check([s.id for s in services.list_services(app_id=app_id, regions=[region]).services or []] == [svc_id],
              f"list_services(regions=[{region}])")
        other = next((r for r in ("fra", "was", "par", "sfo", "sin", "tyo") if r != region), None)
        check(services.list_services(app_id=app_id, regions=[other]).count == 0, f"list_services(regions=[{other}]) matched")
        return "ids and regions narrow the lists"

    step("filters: ids and regions", list_filters, needs=["services.create_service", "secrets.create_secret"])

    def autocomplete():
        reply = services.autocomplete(m.AutocompleteRequest(definition=definition("hello")))
        check(secret_name in (reply.secrets or []), f"secrets: {reply.secrets}")
        check("GREETING" in (reply.user_env or []), f"user_env: {reply.user_env}")
        check("KOYEB_PUBLIC_DOMAIN" in (reply.system_env or []), f"system_env: {reply.system_env}")
        return len(reply.secrets or [])

    step("services.autocomplete", autocomplete, needs=["secrets.create_secret"])

    def get_deployment():
        dep = deployments.get_deployment(state["deployment.1"]).deployment
        check(dep.service_id == state["services.create_service"], f"service_id {dep.service_id}")
        envs = {e.key: (e.value, e.secret) for e in dep.definition.env or []}
        check(envs.get("GREETING") == ("hello", None), f"env GREETING: {envs.get('GREETING')}")
        check(envs.get("SECRET_ENV", (None, None))[1] == secret_name, f"env SECRET_ENV: {envs.get('SECRET_ENV')}")
        check("second-value" not in json.dumps(dep.to_dict(), default=str), "deployment leaks the secret value")
        return dep.status.value

    step("deployments.get_deployment", get_deployment, needs=["services.create_service"])

    def list_regional():
        reply = regional.list_regional_deployments(deployment_id=state["deployment.1"])
        rds = reply.regional_deployments or []
        check(rds, "no regional deployment")
        check([rd.region for rd in rds] == [region], f"regions {[rd.region for rd in rds]}")
        one = regional.get_regional_deployment(rds[0].id).regional_deployment
        check(one.id == rds[0].id, "get_regional_deployment returned another id")
        return rds[0].id

    step("regional_deployments.list/get", list_regional, needs=["services.create_service"])

    def list_instances():
        reply = instances.list_instances(service_id=state["services.create_service"], statuses=["HEALTHY"])
        items = reply.instances or []
        check(len(items) == 1, f"expected 1 HEALTHY instance (scale 1), got {[(i.id, i.status) for i in items]}")
        inst = instances.get_instance(items[0].id).instance
        check(inst.service_id == state["services.create_service"], f"service_id {inst.service_id}")
        check(inst.region == region, f"region {inst.region}")
        by_id = instances.list_instances(ids=[inst.id]).instances or []
        check([i.id for i in by_id] == [inst.id], f"list_instances(ids): {[i.id for i in by_id]}")
        return inst.id

    step("instances.list/get", list_instances, needs=["wait: first deployment HEALTHY"])

    def update_service():
        # Same as `koyeb service update`: newest deployment's definition from a limit=1 list, edited, PUT back.
        newest = deployments.list_deployments(service_id=state["services.create_service"], limit="1").deployments
        check(newest and newest[0].id == state["deployment.1"], f"limit=1 list is not the newest: {newest}")
        updated = newest[0].definition
        updated.env = [e for e in updated.env or [] if e.key != "GREETING"] + [m.DeploymentEnv(key="GREETING", value="updated")]
        svc = services.update_service(state["services.create_service"], m.UpdateService(definition=updated)).service
        check(svc.latest_deployment_id and svc.latest_deployment_id != state["deployment.1"], "no new deployment")
        state["deployment.2"] = svc.latest_deployment_id
        dep = deployments.get_deployment(svc.latest_deployment_id).deployment
        check(dep.parent_id == state["deployment.1"], f"parent_id {dep.parent_id}")
        return svc.latest_deployment_id

    # Updates and redeploys need no healthy service (the CLI allows them at any time), so they only need the service.
    step("services.update_service", update_service, needs=["services.create_service"])
    step("wait: updated deployment HEALTHY", lambda: wait_deployment_healthy(state["deployment.2"]),
         needs=["services.update_service"])

    def list_deployments():
        reply = deployments.list_deployments(service_id=state["services.create_service"])
        ids = [d.id for d in reply.deployments or []]
        check(ids[:2] == [state["deployment.2"], state["deployment.1"]], f"newest first expected: {ids}")
        versions = [d.version for d in reply.deployments]
        check(all(isinstance(v, str) for v in versions), f"versions must be strings: {versions}")
        return ids

    step("deployments.list_deployments", list_deployments, needs=["services.update_service"])

    def redeploy():
        reply = services.re_deploy(state["services.create_service"], m.RedeployRequestInfo())
        check(reply.deployment and reply.deployment.id, f"no deployment in reply: {reply}")
        check(reply.deployment.id not in (state["deployment.1"], state["deployment.2"]), "redeploy reused a deployment")
        state["deployment.3"] = reply.deployment.id
        return reply.deployment.id

    step("services.re_deploy", redeploy, needs=["services.update_service"])
    step("wait: redeployed HEALTHY", lambda: wait_deployment_healthy(state["deployment.3"]), needs=["services.re_deploy"])

    def query_logs():
        reply = logs.query_logs(service_id=state["services.create_service"], type="runtime", order="asc", limit="100")
        check(reply.data is not None, f"no data list: {reply}")
        return len(reply.data)

    step("logs.query_logs", query_logs, needs=["services.create_service"])

    def service_events():
        reply = services.list_service_events(service_id=state["services.create_service"])
        check(reply.events, "no service events")
        return len(reply.events)

    step("services.list_service_events", service_events, needs=["services.create_service"])

    def pause():
        services.pause_service(state["services.create_service"])

        def probe():
            svc = services.get_service(state["services.create_service"]).service
            return svc.status == m.ServiceStatus.PAUSED, f"{svc.status.value} {svc.messages}"
        wait_for("service PAUSED", probe)
        active = instances.list_instances(service_id=state["services.create_service"],
                                          statuses=ACTIVE_INSTANCE_STATUSES).instances or []
        check(not active, f"instances still active after pause: {[(i.id, i.status) for i in active]}")
        return "PAUSED"

    step("services.pause_service", pause, needs=["wait: redeployed HEALTHY"])

    def resume():
        services.resume_service(state["services.create_service"])
        seen = []

        def probe():
            svc = services.get_service(state["services.create_service"]).service
            if not seen or seen[-1] != svc.status.value:
                seen.append(svc.status.value)
            return svc.status == m.ServiceStatus.HEALTHY, f"{svc.status.value} {svc.messages}"
        wait_for("service HEALTHY after resume", probe)
        # Between resume and HEALTHY the service reads RESUMING, never UNHEALTHY (clients waiting on it would give up).
        # Polling may miss a short-lived status; the service's events record every transition, so check those too.
        check(all(s in ("RESUMING", "HEALTHY") for s in seen), f"statuses seen after resume: {seen}")
        events = services.list_service_events(service_id=state["services.create_service"], limit="100").events or []
        since = []
        for e in events:  # newest first, back to the resume request
            if e.type == "resuming":
                break
            since.append(e.type)
        check(since and "service_unhealthy" not in since and "service_resuming" in since, f"transitions since resume: {since[::-1]}")
        return " -> ".join(since[::-1])

    step("services.resume_service", resume, needs=["services.pause_service"])

    def gone(get, what):
        def probe():
            try:
                obj = get()
            except NotFoundException:
                return True, "404"
            return obj.status.value == "DELETED", f"{obj.status.value} {obj.messages}"
        return wait_for(f"{what} DELETED or 404", probe)

    def delete_service():
        services.delete_service(state["services.create_service"])
        return gone(lambda: services.get_service(state["services.create_service"]).service, "service")

    step("services.delete_service", delete_service, needs=["services.create_service"])

    def delete_app():
        apps.delete_app(state["apps.create_app"])
        return gone(lambda: apps.get_app(state["apps.create_app"]).app, "app")

    step("apps.delete_app", delete_app, needs=["apps.create_app"])

    def delete_secret():
        secrets.delete_secret(state["secrets.create_secret"])
        try:
            secrets.get_secret(state["secrets.create_secret"])
        except NotFoundException:
            return "404"
        raise AssertionError("secret still readable after delete")

    step("secrets.delete_secret", delete_secret, needs=["secrets.create_secret"])

    def unknown_id_is_404():
        try:
            apps.get_app("00000000-0000-4000-8000-000000000000")
        except NotFoundException as exc:
            body = json.loads(exc.body or "{}")
            check(body.get("status") == 404 and isinstance(body.get("code"), str), f"error body {exc.body}")
            return body.get("code")
        except ApiException as exc:
            raise AssertionError(f"expected 404, got {exc.status}: {exc.body}")
        raise AssertionError("expected 404 for an unknown app id")

    step("errors: unknown app id -> 404", unknown_id_is_404)


if __name__ == "__main__":
    main()
