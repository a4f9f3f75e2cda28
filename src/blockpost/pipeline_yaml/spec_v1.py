"""The shape of a `version: v1.0` pipeline file, key by key (facts from Semaphore's schema)."""

from __future__ import annotations

from blockpost.pipeline_yaml.schema import Arr, Bool, ByKeys, Int, Obj, Str

MAX_BLOCKS = 300
MAX_JOBS = 50
MAX_PARALLELISM = 50
MAX_ENV_VARS = 10_000

WHEN = Str(min_length=1) | Bool()
WHEN_CONDITION = Obj({"when": WHEN}, required=("when",))
ENV_VARS = Arr(
    Obj({"name": Str(), "value": Str()}, required=("name", "value")), max_items=MAX_ENV_VARS
)
SECRETS = Arr(
    Obj(
        {"name": Str(), "env_var_names": Arr(Str()), "config_file_paths": Arr(Str())},
        required=("name",),
    )
)
COMMANDS = Obj(
    {"commands": Arr(Str()), "commands_file": Str()}, exactly_one=[("commands", "commands_file")]
)
EPILOGUE = ByKeys(
    when_any_of=("commands", "commands_file"),
    then=COMMANDS,
    otherwise=Obj(
        {"always": COMMANDS, "on_pass": COMMANDS, "on_fail": COMMANDS},
        at_least_one=[("always", "on_pass", "on_fail")],
    ),
)
TIME_LIMIT = Obj(
    {"minutes": Int(minimum=1), "hours": Int(minimum=1)}, exactly_one=[("minutes", "hours")]
)
PRIORITY = Arr(
    Obj({"value": Int(minimum=0, maximum=100), "when": WHEN}, required=("value", "when"))
)
AGENT = Obj(
    {
        "machine": Obj({"type": Str(min_length=1), "os_image": Str()}, required=("type",)),
        "containers": Arr(
            Obj(
                {
                    "name": Str(),
                    "image": Str(),
                    "command": Str(),
                    "entrypoint": Str(),
                    "user": Str(),
                    "env_vars": ENV_VARS,
                    "secrets": SECRETS,
                },
                required=("name", "image"),
            )
        ),
        "image_pull_secrets": Arr(Obj({"name": Str()}, required=("name",))),
    },
    required=("machine",),
)
FAIL_FAST = Obj(
    {"stop": WHEN_CONDITION, "cancel": WHEN_CONDITION}, at_least_one=[("stop", "cancel")]
)
JOB = Obj(
    {
        "name": Str(min_length=1),
        "commands": Arr(Str()),
        "commands_file": Str(),
        "priority": PRIORITY,
        "parallelism": Int(minimum=1, maximum=MAX_PARALLELISM) | Str(),
        "matrix": Arr(
            Obj(
                {"env_var": Str(min_length=1), "values": Arr(Str(), min_items=1) | Str()},
                required=("env_var", "values"),
            )
        ),
        "env_vars": ENV_VARS,
        "execution_time_limit": TIME_LIMIT,
    },
    exactly_one=[("commands", "commands_file")],
    exclusive=[("matrix", "parallelism")],
)
TASK = Obj(
    {
        "jobs": Arr(JOB, min_items=1, max_items=MAX_JOBS),
        "agent": AGENT,
        "boosters": Arr(
            Obj(
                {
                    "name": Str(),
                    "type": Str(enum=("rspec", "cucumber")),
                    "job_count": Int(minimum=1),
                }
            )
        ),
        "prologue": COMMANDS,
        "secrets": SECRETS,
        "env_vars": ENV_VARS,
        "epilogue": EPILOGUE,
        "fail_fast": FAIL_FAST,
    },
    at_least_one=[("jobs", "boosters")],
)
BLOCK = Obj(
    {
        "name": Str(min_length=1),
        "dependencies": Arr(Str()),
        "execution_time_limit": TIME_LIMIT,
        "filters": Arr(
            Obj(
                {"label": Str(), "label_pattern": Str(), "action": Str(enum=("skip", "execute"))},
                required=("action",),
                exactly_one=[("label", "label_pattern")],
            )
        ),
        "skip": WHEN_CONDITION,
        "run": WHEN_CONDITION,
        "task": TASK,
        "task_file": Str(),
        "partial_rerun": Str(enum=("jobs", "block")),
    },
    exactly_one=[("task", "task_file")],
    exclusive=[("filters", "skip"), ("filters", "run"), ("skip", "run")],
)
QUEUE_ENTRY = Obj(
    {
        "name": Str(min_length=1),
        "scope": Str(enum=("project", "organization")),
        "processing": Str(enum=("serialized", "parallel")),
        "when": WHEN,
    },
    at_least_one=[("name", "processing")],
)
PROMOTION = Obj(
    {
        "name": Str(min_length=1),
        "pipeline_file": Str(),
        "deployment_target": Str(min_length=1),
        "auto_promote": WHEN_CONDITION,
        "auto_promote_on": Arr(
            Obj(
                {
                    "result": Str(),
                    "result_reason": Str(),
                    "branch": Arr(Str()),
                    "labels": Arr(Str()),
                    "label_patterns": Arr(Str()),
                },
                required=("result",),
                exclusive=[("branch", "labels", "label_patterns")],
            )
        ),
        "parameters": Obj(
            {
                "env_vars": Arr(
                    Obj(
                        {
                            "name": Str(min_length=1),
                            "options": Arr(Str()),
                            "required": Bool(),
                            "default_value": Str(),
                            "description": Str(),
                        },
                        required=("name",),
                    )
                )
            },
            required=("env_vars",),
        ),
    },
    required=("name", "pipeline_file"),
)
PIPELINE = Obj(
    {
        "version": Str(),
        "name": Str(),
        "agent": AGENT,
        "blocks": Arr(BLOCK, min_items=1, max_items=MAX_BLOCKS),
        "after_pipeline": Obj(
            {"task": TASK, "task_file": Str()}, exactly_one=[("task", "task_file")]
        ),
        "promotions": Arr(PROMOTION, min_items=1),
        "execution_time_limit": TIME_LIMIT,
        "global_job_config": Obj(
            {
                "prologue": COMMANDS,
                "secrets": SECRETS,
                "env_vars": ENV_VARS,
                "epilogue": EPILOGUE,
                "priority": PRIORITY,
            },
            at_least_one=[("prologue", "secrets", "env_vars", "epilogue", "priority")],
        ),
        "fail_fast": FAIL_FAST,
        "auto_cancel": Obj(
            {"queued": WHEN_CONDITION, "running": WHEN_CONDITION},
            at_least_one=[("queued", "running")],
        ),
        "queue": QUEUE_ENTRY | Arr(QUEUE_ENTRY, min_items=1),
        "partial_rerun": Str(enum=("jobs", "block")),
    },
    required=("version", "agent", "blocks"),
)
