"""Drives Pier's volumes and snapshots (issue #20) through Koyeb's own Python SDK (koyeb-sdk, koyeb.api): create, list,
rename, attach to a service, refuse deleting while attached (409 naming the service), snapshot, restore into a new
volume, volume events, detach and delete. One JSON line per step ({step, status, error?}); run by
sdk-volumes.slow.test.ts against a real Pier.
"""
import json
import os
import time
import traceback

from koyeb import api
from koyeb.api import models as m
from koyeb.api.exceptions import ApiException

URL = os.environ["PIER_URL"]
TOKEN = os.environ["PIER_TOKEN"]
IMAGE = os.environ.get("PIER_COMPAT_IMAGE", "pier-test/busybox:1")
PORT = int(os.environ.get("PIER_COMPAT_PORT", "8000"))
TIMEOUT = float(os.environ.get("PIER_COMPAT_TIMEOUT", "60"))

state = {}
failed = set()


def step(name, fn, needs=()):
    missing = [n for n in needs if n in failed or n not in state]
    if missing:
        failed.add(name)
        print(json.dumps({"step": name, "status": "blocked", "error": "blocked by " + ", ".join(missing)}), flush=True)
        return
    try:
        state[name] = fn()
        print(json.dumps({"step": name, "status": "ok"}), flush=True)
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        failed.add(name)
        detail = exc.body if isinstance(exc, ApiException) else traceback.format_exc(limit=3)
        print(json.dumps({"step": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000], "detail": str(detail)[:2000]}), flush=True)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def wait_for(what, probe):
    deadline = time.monotonic() + TIMEOUT
    seen = None
    while time.monotonic() < deadline:
        done, seen = probe()
        if done:
            return seen
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last seen: {seen}")


def main():
    cfg = api.Configuration(host=URL, api_key={"Bearer": TOKEN}, api_key_prefix={"Bearer": "Bearer"})
    client = api.ApiClient(cfg)
    volumes = api.PersistentVolumesApi(client)
    snapshots = api.SnapshotsApi(client)
    apps = api.AppsApi(client)
    services = api.ServicesApi(client)

    def create_volume():
        v = volumes.create_persistent_volume(m.CreatePersistentVolumeRequest(
            name="sdk-data", region="was", max_size=1,
            volume_type=m.PersistentVolumeBackingStore.PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK)).volume
        check(v.id and v.status == m.PersistentVolumeStatus.PERSISTENT_VOLUME_STATUS_DETACHED, f"{v}")
        check(v.max_size == 1 and v.region == "was", f"{v}")
        return v.id

    step("volumes.create_persistent_volume", create_volume)

    def list_and_rename():
        listed = volumes.list_persistent_volumes(name="sdk-data").volumes
        check([v.id for v in listed] == [state["volumes.create_persistent_volume"]], f"{listed}")
        v = volumes.update_persistent_volume(state["volumes.create_persistent_volume"], m.UpdatePersistentVolumeRequest(name="sdk-data2")).volume
        check(v.name == "sdk-data2", f"{v}")
        volumes.update_persistent_volume(v.id, m.UpdatePersistentVolumeRequest(name="sdk-data"))
        return "ok"

    step("volumes.list_persistent_volumes / update_persistent_volume", list_and_rename, needs=["volumes.create_persistent_volume"])

    def attach():
        app_id = apps.create_app(m.CreateApp(name="sdk-vol-app")).app.id
        definition = m.DeploymentDefinition(
            name="db", type=m.DeploymentDefinitionType.WEB, docker=m.DockerSource(image=IMAGE),
            ports=[m.DeploymentPort(port=PORT, protocol="http")], routes=[m.DeploymentRoute(port=PORT, path="/")],
            regions=["was"], scalings=[m.DeploymentScaling(min=1, max=1)], instance_types=[m.DeploymentInstanceType(type="nano")],
            volumes=[m.DeploymentVolume(id=state["volumes.create_persistent_volume"], path="/data")])
        svc = services.create_service(m.CreateService(app_id=app_id, definition=definition)).service

        def probe():
            s = services.get_service(svc.id).service
            v = volumes.get_persistent_volume(state["volumes.create_persistent_volume"]).volume
            return s.status == m.ServiceStatus.HEALTHY and v.status == m.PersistentVolumeStatus.PERSISTENT_VOLUME_STATUS_ATTACHED, f"{s.status} {v.status}"
        wait_for("service HEALTHY and volume ATTACHED", probe)
        v = volumes.get_persistent_volume(state["volumes.create_persistent_volume"]).volume
        check(v.service_id == svc.id, f"service_id {v.service_id} != {svc.id}")
        return svc.id

    step("services.create_service with volumes -> ATTACHED", attach, needs=["volumes.create_persistent_volume"])

    def refused():
        try:
            volumes.delete_persistent_volume(state["volumes.create_persistent_volume"])
        except ApiException as exc:
            check(exc.status == 409, f"status {exc.status}")
            check("attached to service db" in (exc.body or ""), f"body {exc.body}")
            return "409"
        raise AssertionError("deleting an attached volume succeeded")

    step("volumes.delete_persistent_volume while attached -> 409", refused, needs=["services.create_service with volumes -> ATTACHED"])

    def snapshot():
        s = snapshots.create_snapshot(m.CreateSnapshotRequest(name="sdk-snap", parent_volume_id=state["volumes.create_persistent_volume"])).snapshot
        check(s.status == m.SnapshotStatus.SNAPSHOT_STATUS_CREATING and s.type == m.SnapshotType.SNAPSHOT_TYPE_LOCAL, f"{s}")
        wait_for("snapshot AVAILABLE", lambda: (snapshots.get_snapshot(s.id).snapshot.status == m.SnapshotStatus.SNAPSHOT_STATUS_AVAILABLE, None))
        check([x.id for x in snapshots.list_snapshots().snapshots] == [s.id], "list_snapshots")
        check(snapshots.update_snapshot(s.id, m.UpdateSnapshotRequest(name="sdk-snap2")).snapshot.name == "sdk-snap2", "rename")
        return s.id

    step("snapshots.create_snapshot / get / list / update", snapshot, needs=["volumes.create_persistent_volume"])

    def restore():
        v = volumes.create_persistent_volume(m.CreatePersistentVolumeRequest(
            name="sdk-copy", region="was", snapshot_id=state["snapshots.create_snapshot / get / list / update"])).volume
        check(v.snapshot_id == state["snapshots.create_snapshot / get / list / update"] and v.max_size == 1, f"{v}")
        return v.id

    step("volumes.create_persistent_volume from a snapshot", restore, needs=["snapshots.create_snapshot / get / list / update"])

    def events():
        ev = volumes.list_persistent_volume_events(persistent_volume_id=state["volumes.create_persistent_volume"]).events
        check(ev and all(e.persistent_volume_id == state["volumes.create_persistent_volume"] for e in ev), f"{ev}")
        return len(ev)

    step("volumes.list_persistent_volume_events", events, needs=["volumes.create_persistent_volume"])

    def cleanup():
        services.delete_service(state["services.create_service with volumes -> ATTACHED"])
        wait_for("service DELETED", lambda: (services.get_service(state["services.create_service with volumes -> ATTACHED"]).service.status == m.ServiceStatus.DELETED, None))
        for vid in (state.get("volumes.create_persistent_volume"), state.get("volumes.create_persistent_volume from a snapshot")):
            if vid:
                volumes.delete_persistent_volume(vid)
        snapshots.delete_snapshot(state["snapshots.create_snapshot / get / list / update"])
        wait_for("volumes and snapshots gone", lambda: (not volumes.list_persistent_volumes().volumes and not snapshots.list_snapshots().snapshots, None))
        return "ok"

    step("delete service, volumes and snapshot", cleanup, needs=["services.create_service with volumes -> ATTACHED", "snapshots.create_snapshot / get / list / update"])


if __name__ == "__main__":
    main()
