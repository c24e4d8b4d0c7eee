"""Probes how koyeb-sdk talks HTTP, against test/compat/recording-server.ts (run by sdk-wire.slow.test.ts).

Prints one JSON object per probe: {"probe", "result"}; the TypeScript test asserts the facts docs/compat.md states.
"""

import json
import os

from koyeb import api
from koyeb.api import models as m

cfg = api.Configuration(host=os.environ["PIER_URL"], api_key={"Bearer": "probe-token"}, api_key_prefix={"Bearer": "Bearer"})
client = api.ApiClient(cfg)
apps = api.AppsApi(client)
services = api.ServicesApi(client)
instances = api.InstancesApi(client)


def emit(probe, result):
    print(json.dumps({"probe": probe, "result": result}, default=str), flush=True)


def attempt(fn):
    try:
        return {"ok": True, "value": fn()}
    except Exception as exc:  # noqa: BLE001 - the probe reports what the SDK does with the reply
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}


emit("create_app", attempt(lambda: type(apps.create_app(m.CreateApp(name="probe-200"))).__name__))
emit("create_app answered 201", attempt(lambda: type(apps.create_app(m.CreateApp(name="probe-201"))).__name__))
definition = m.DeploymentDefinition(name="probe", type=m.DeploymentDefinitionType.WEB, docker=m.DockerSource(image="x"))
emit("create_service", attempt(lambda: type(services.create_service(m.CreateService(app_id="a", definition=definition))).__name__))
emit("list_services", attempt(lambda: services.list_services(statuses=["HEALTHY", "DEGRADED"]).count))
emit("get_service numeric version", attempt(lambda: services.get_service("numeric-version").service.version))
emit("get_service unknown status", attempt(lambda: services.get_service("unknown-status").service.status))
emit("get_service empty timestamp", attempt(lambda: services.get_service("empty-timestamp").service.terminated_at))
emit("get_service null timestamp", attempt(lambda: services.get_service("null-timestamp").service.terminated_at))
emit("pause_service", attempt(lambda: type(services.pause_service("s")).__name__))
