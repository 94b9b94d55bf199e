"""batch/v1 CronJob: defaults (concurrencyPolicy Allow, suspend false, history limits 3 and 1),
validation as Kubernetes' ValidateCronJob (the schedule parsed as robfig/cron does, the timeZone a
tz database name, TZ= in a new schedule refused, the job template checked like a Job's spec, a
name of at most 52 characters), and kubectl's columns."""

from __future__ import annotations

from typing import Any

from ...machinery.cron import ScheduleError, load_zone, parse_schedule
from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .podspec import default_pod_template, validate_pod_template
from .printing import age, container_cells, name_of, since
from .selectors import format_selector

Obj = dict[str, Any]
POLICIES = ("Allow", "Forbid", "Replace")
MAX_NAME = 52  # DNS-1035 label (63) less the 11 characters of "-<unix minutes>"


def validate_time_zone(zone: Any, path: str) -> list[Cause]:
    if zone is None:
        return []
    if not isinstance(zone, str):
        return [fe.type_invalid(path, zone, "must be a string")]
    if zone == "":
        return [fe.invalid(path, zone, "timeZone must be nil or non-empty string")]
    if zone.lower() == "local":
        return [fe.invalid(path, zone, "timeZone must be an explicit time zone as defined in "
                                       "https://www.iana.org/time-zones")]
    try:
        load_zone(zone)
    except ScheduleError as err:
        return [fe.invalid(path, zone, str(err))]
    return []


def validate_schedule(schedule: Any, zone: Any, old_schedule: Any, path: str) -> list[Cause]:
    if schedule in (None, ""):
        return [fe.required(path, "")]
    if not isinstance(schedule, str):
        return [fe.type_invalid(path, schedule, "must be a string")]
    out: list[Cause] = []
    try:
        parse_schedule(schedule, None)
    except ScheduleError as err:
        out.append(fe.invalid(path, schedule, str(err)))
    allow_tz = isinstance(old_schedule, str) and "TZ" in old_schedule  # kept on update, never new
    if "TZ" in schedule:
        if not allow_tz:
            out.append(fe.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
        elif zone is not None:
            out.append(fe.invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    return out


def validate_job_template(template: Any, path: str) -> list[Cause]:
    if not isinstance(template, dict):
        return [fe.required(path, "")]
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return [fe.required(f"{path}.spec", "")]
    out: list[Cause] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        fe.check_int(out, f"{path}.spec.{key}", spec.get(key), minimum=0)
    if spec.get("selector") is not None and spec.get("manualSelector") is not True:
        out.append(fe.invalid(f"{path}.spec.selector", spec["selector"], "`selector` will be auto-generated"))
    pod_template = spec.get("template")
    if pod_template is None:
        return [*out, fe.required(f"{path}.spec.template", "")]
    out.extend(validate_pod_template(pod_template, f"{path}.spec.template"))
    restart = fe.as_dict(fe.as_dict(pod_template).get("spec")).get("restartPolicy")
    if restart not in ("OnFailure", "Never"):
        out.append(fe.not_supported(f"{path}.spec.template.spec.restartPolicy", restart or "",
                                    ["OnFailure", "Never"]))
    return out


class CronJobStrategy(ObjectStrategy):
    kind = "CronJob"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        setdef(spec, "concurrencyPolicy", "Allow")
        setdef(spec, "suspend", False)
        setdef(spec, "successfulJobsHistoryLimit", 3)
        setdef(spec, "failedJobsHistoryLimit", 1)
        job_spec = child(child(spec, "jobTemplate"), "spec")
        template = job_spec.get("template")
        if isinstance(template, dict):
            default_pod_template(template)
        child(obj, "status")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        name = fe.as_dict(obj.get("metadata")).get("name")
        if isinstance(name, str) and len(name) > MAX_NAME:
            out.append(fe.invalid("metadata.name", name, f"must be no more than {MAX_NAME} characters"))
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [*out, fe.required("spec", "")]
        old_schedule = fe.as_dict(fe.as_dict(old).get("spec")).get("schedule") if old else None
        zone = spec.get("timeZone")
        out.extend(validate_schedule(spec.get("schedule"), zone, old_schedule, "spec.schedule"))
        out.extend(validate_time_zone(zone, "spec.timeZone"))
        fe.check_int(out, "spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"), minimum=0)
        fe.check_enum(out, "spec.concurrencyPolicy", spec.get("concurrencyPolicy"), POLICIES, required_=True)
        for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
            fe.check_int(out, f"spec.{key}", spec.get(key), minimum=0)
        out.extend(validate_job_template(spec.get("jobTemplate"), "spec.jobTemplate"))
        if spec.get("suspend") is not None and not isinstance(spec.get("suspend"), bool):
            out.append(fe.type_invalid("spec.suspend", spec["suspend"], "must be a boolean"))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Schedule", description="The schedule in Cron format, see "
                                               "https://en.wikipedia.org/wiki/Cron."),
                Column("Timezone", description="The time zone name for the given schedule, see "
                                               "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
                Column("Suspend", "boolean", description="This flag tells the controller to suspend subsequent "
                                                         "executions, it does not apply to already started "
                                                         "executions. Defaults to false."),
                Column("Active", "integer", description="A list of pointers to currently running jobs."),
                Column("Last Schedule", description="Information when was the last time the job was "
                                                    "successfully scheduled."),
                Column("Age", description="CreationTimestamp is a timestamp representing the server time when "
                                          "this object was created."),
                Column("Containers", priority=1, description="Names of each container in the template."),
                Column("Images", priority=1, description="Images referenced by each container in the template."),
                Column("Selector", priority=1, description="A label query over pods that should match the pod "
                                                           "count.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec, status = fe.as_dict(obj.get("spec")), fe.as_dict(obj.get("status"))
        suspend = spec.get("suspend")
        job_spec = fe.as_dict(fe.as_dict(spec.get("jobTemplate")).get("spec"))
        names, images = container_cells(fe.as_dict(job_spec.get("template")).get("spec"))
        last = status.get("lastScheduleTime")
        return [name_of(obj), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
                "<unset>" if suspend is None else ("True" if suspend else "False"),
                len(fe.as_list(status.get("active"))), since(last, now) if last else "<none>", age(obj, now),
                names, images, format_selector(job_spec.get("selector"))]
