"""Checks every awx.awx task of the given playbooks against the module's own argument spec, as ``ansible-doc -j``
of the installed awx.awx collection prints it (issue 20: no AWX server runs here, so the field names are held to
the modules' documentation). For each task: the module exists; every option it passes is an option or an alias
(in suboptions too, where the value is written out); a written-out value is of the option's type and among its
choices; every required option is given. A loop over written-out items is checked item by item. A survey_spec,
which the modules pass to AWX as it is, is held to AWX's own description of it (awx/api/templates/api/
job_template_survey_spec.md in ansible/awx: name, description and spec; each question's fields and types), and a
notification_configuration to its backend's init_parameters (awx/main/notifications/email_backend.py and
webhook_backend.py: AWX refuses a configuration that lacks a field with no default, or has one more).

    python check_options.py ANSIBLE_DOC PLAYBOOK...    exit 0 when every task fits, 1 with one line per misfit
"""

import json
import re
import subprocess
import sys

import yaml

PREFIX = "awx.awx."
ITEM = re.compile(r"^\{\{\s*item\.(\w+)\s*\}\}$")
SURVEY_FIELDS = {"type", "question_name", "question_description", "variable", "required", "default", "min", "max",
                 "choices", "new_question"}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
NOTIFICATION_FIELDS = {  # field: whether AWX has a default for it
    "email": {"host": False, "port": False, "username": False, "password": False, "use_tls": False, "use_ssl": False,
              "sender": False, "recipients": False, "timeout": True},
    "webhook": {"url": False, "headers": False, "http_method": True, "disable_ssl_verification": True,
                "username": True, "password": True},
}
TYPES = {"str": str, "dict": dict, "list": list, "bool": bool, "int": int, "float": (int, float), "path": str}


class Loader(yaml.SafeLoader):
    """YAML as Ansible reads it, for what this check needs: ``!unsafe`` is a plain string."""


Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def tasks_of(blocks):
    """Every task in a list of tasks, blocks included."""
    for task in blocks or []:
        if not isinstance(task, dict):
            continue
        for key in ("block", "rescue", "always"):
            if key in task:
                yield from tasks_of(task[key])
        yield task


def awx_tasks(playbook_path):
    with open(playbook_path, encoding="utf-8") as handle:
        plays = yaml.load(handle, Loader=Loader) or []
    for play in plays:
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            for task in tasks_of(play.get(section)):
                for key, args in task.items():
                    if isinstance(key, str) and key.startswith(PREFIX):
                        yield task.get("name", key), key, args if isinstance(args, dict) else {}, task.get("loop")


def specs(ansible_doc, modules):
    """The options of each module, by module name; a module ansible-doc does not know has none (None)."""
    out = subprocess.run([ansible_doc, "-j"] + sorted(modules), capture_output=True, text=True, check=False)
    docs = json.loads(out.stdout or "{}")
    return {name: docs[name]["doc"]["options"] if name in docs else None for name in modules}


def templated(value):
    return isinstance(value, str) and "{{" in value


def substitute(value, item):
    """``{{ item.x }}`` replaced by the loop item's x, recursively; other templates stay as they are."""
    if isinstance(value, str):
        found = ITEM.match(value.strip())
        return item.get(found.group(1), value) if found and isinstance(item, dict) else value
    if isinstance(value, dict):
        return {key: substitute(sub, item) for key, sub in value.items()}
    if isinstance(value, list):
        return [substitute(sub, item) for sub in value]
    return value


def check_options(args, options, where, problems):
    names = {}
    for name, option in options.items():
        names[name] = name
        for alias in option.get("aliases") or []:
            names[alias] = name
    for key, value in args.items():
        if key not in names:
            problems.append("%s: %s is not an option (the options: %s)" % (where, key, ", ".join(sorted(options))))
            continue
        check_value(value, options[names[key]], "%s.%s" % (where, key), problems)
    given = {names[key] for key in args if key in names}
    for name, option in options.items():
        if option.get("required") and name not in given:
            problems.append("%s: the required option %s is missing" % (where, name))


def check_value(value, option, where, problems):
    if templated(value) or value is None:
        return  # known only when the play runs
    kind = option.get("type", "str")
    expected = TYPES.get(kind)
    if kind == "bool" and not isinstance(value, bool):
        problems.append("%s: %r is not a bool" % (where, value))
        return
    if expected is not None and kind not in ("str", "path", "bool") and not isinstance(value, expected):
        problems.append("%s: %r is not of type %s" % (where, value, kind))
        return
    choices = option.get("choices")
    if choices and not isinstance(value, (list, dict)) and value not in choices and str(value) not in map(str, choices):
        problems.append("%s: %r is not one of %s" % (where, value, ", ".join(map(str, choices))))
    suboptions = option.get("suboptions")
    if not suboptions:
        return
    if kind == "dict" and isinstance(value, dict):
        check_options(value, suboptions, where, problems)
    elif kind == "list" and option.get("elements") == "dict" and isinstance(value, list):
        for index, element in enumerate(value):
            if isinstance(element, dict):
                check_options(element, suboptions, "%s[%d]" % (where, index), problems)


def check_survey(args, where, problems):
    survey = args.get("survey_spec", args.get("survey"))
    if not isinstance(survey, dict):
        return
    for key in ("name", "description", "spec"):
        if key not in survey:
            problems.append("%s.survey_spec: AWX needs %s" % (where, key))
    questions = survey.get("spec")
    for index, question in enumerate(questions if isinstance(questions, list) else []):
        at = "%s.survey_spec.spec[%d]" % (where, index)
        if not isinstance(question, dict):
            continue
        for key in sorted(set(question) - SURVEY_FIELDS):
            problems.append("%s: %s is not a field of a survey question" % (at, key))
        for key in ("type", "question_name", "variable"):
            if key not in question:
                problems.append("%s: a survey question needs %s" % (at, key))
        if not templated(question.get("type")) and question.get("type", "text") not in SURVEY_TYPES:
            problems.append("%s: %r is not a survey question type (%s)" % (at, question.get("type"),
                                                                           ", ".join(sorted(SURVEY_TYPES))))


def check_notification(args, where, problems):
    fields = NOTIFICATION_FIELDS.get(args.get("notification_type"))
    config = args.get("notification_configuration")
    if fields is None or not isinstance(config, dict):
        return
    for key in sorted(set(config) - set(fields)):
        problems.append("%s.notification_configuration: %s is not a field of AWX's %s backend"
                        % (where, key, args["notification_type"]))
    for key in sorted(name for name, has_default in fields.items() if not has_default and name not in config):
        problems.append("%s.notification_configuration: AWX's %s backend needs %s" % (where, args["notification_type"], key))


def check(ansible_doc, playbooks):
    """(problems, the number of tasks checked)."""
    found = [(path,) + task for path in playbooks for task in awx_tasks(path)]
    modules = specs(ansible_doc, {module for _path, _name, module, _args, _loop in found})
    problems = []
    for path, name, module, args, loop in found:
        options = modules[module]
        where = "%s: task %r (%s)" % (path, name, module)
        if options is None:
            problems.append("%s: ansible-doc does not know the module" % where)
            continue
        items = loop if isinstance(loop, list) else [None]
        for index, item in enumerate(items):
            at = where + ("[item %d]" % index if item is not None else "")
            check_options(substitute(args, item), options, at, problems)
            check_survey(substitute(args, item), at, problems)
            check_notification(substitute(args, item), at, problems)
    return problems, len(found)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems, count = check(argv[1], argv[2:])
    for line in problems:
        print(line)
    if not count:
        print("no awx.awx task found in %s" % ", ".join(argv[2:]))
        return 1
    print("%d awx.awx task(s) checked, %d misfit(s)" % (count, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
