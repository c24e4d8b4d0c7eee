"""Koyeb's Python SDK against a Pier at PIER_URL with PIER_TOKEN: activities and the event lists of each level,
compose, quotas and usage decode into the SDK's models. Prints one JSON object (what the SDK decoded) for
sdk-events.slow.test.ts to assert on; any exception exits non-zero with the traceback."""
import json
import os

from koyeb import api

cfg = api.Configuration(host=os.environ["PIER_URL"], api_key={"Bearer": os.environ["PIER_TOKEN"]}, api_key_prefix={"Bearer": "Bearer"})
client = api.ApiClient(cfg)
apps = api.AppsApi(client)
services = api.ServicesApi(client)
deployments = api.DeploymentsApi(client)
activity = api.ActivityApi(client)

app = apps.create_app(app=api.CreateApp(name="sdk-trace")).app
svc = services.create_service(service=api.CreateService(app_id=app.id, definition=api.DeploymentDefinition(
    name="worker", type="WORKER", docker=api.DockerSource(image="busybox"), regions=["fra"],
))).service
apps.update_app(id=app.id, app=api.UpdateApp(name="sdk-trace-2"))

acts = activity.list_activities(limit="10")
only_services = activity.list_activities(types=["service"])
mine = activity.get_account_activities()
app_events = apps.list_app_events(app_id=app.id, order="asc")
service_events = services.list_service_events(service_id=svc.id)
deployment_events = deployments.list_deployment_events(deployment_id=svc.latest_deployment_id)

composed = api.ComposeApi(client).compose(compose=api.CreateCompose(app=api.CreateApp(name="sdk-compose"), services=[
    api.CreateService(definition=api.DeploymentDefinition(name="jobs", type="WORKER", docker=api.DockerSource(image="busybox"), regions=["fra"])),
]))
composed_again = api.ComposeApi(client).compose(compose=api.CreateCompose(app=api.CreateApp(name="sdk-compose"), services=[
    api.CreateService(definition=api.DeploymentDefinition(name="jobs", type="WORKER", docker=api.DockerSource(image="busybox"), regions=["fra"])),
]))
quotas = api.OrganizationQuotasApi(client).get_quotas(organization_id=app.organization_id)
usages = api.UsagesApi(client)
usage = usages.get_organization_usage()
details = usages.get_organization_usage_details(limit="10")

print(json.dumps({
    "compose": [composed.app.name, [s.name for s in composed.services], composed.services[0].latest_deployment_id == composed_again.services[0].latest_deployment_id],
    "quotas": quotas.quotas.to_dict() if quotas.quotas else None,
    "usage_org": usage.usage.organization_id,
    "usage_details": [len(details.usage_details or []), details.count],
    "activities": [[a.actor.type, a.verb, a.object.type, a.object.name, a.created_at.isoformat()] for a in acts.activities],
    "activity_has_next": acts.has_next,
    "service_activities": [a.object.id for a in only_services.activities],
    "account_activities": len(mine.activities),
    "app_events": [[e.type, e.app_id, e.message] for e in app_events.events],
    "service_events": [[e.type, e.service_id] for e in service_events.events],
    "deployment_events": [[e.type, e.deployment_id] for e in deployment_events.events],
    "organization_id": app.organization_id, "service_id": svc.id, "app_id": app.id, "deployment_id": svc.latest_deployment_id,
}))
