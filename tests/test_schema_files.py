"""The shipped schema files as other tools use them: check-jsonschema and python-jsonschema, offline,
with no memport and no base URI, say about each bundle and record what ``memport validate`` says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from check_jsonschema import main as check_jsonschema_main
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

import memport
from memport.problems import Problem
from memport.schemas import ERRORS_ONLY, SCHEMA_BASE, standalone_files

ROOT = Path(__file__).parent.parent
SCHEMAS = ROOT / "schemas"
# proxies on a port nothing listens on: any download (check-jsonschema fetches with requests) fails at once
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}

LETTA = "tests/fixtures/letta/companion.af"
LETTA_LEGACY = "tests/fixtures/letta/legacy-0.6.47.af"
LEGACY_NAME = ('"name":"memgpt.agent/v1"', '"name":"memgpt agent v1"')
# a skill, in the exporter's layout
SKILL = '"skills": [\n    {\n      "name": "slack",\n      "files": {\n        "SKILL.md": "# Slack"\n      },\n      "source_url": "letta:slack"\n    }\n  ]'
# name: (example, the file inside it to edit, edits, what memport validate says)
FIXTURES: dict[str, tuple[str, str | None, list[tuple[str, str]], str]] = {
    "kagura": ("examples/kagura", None, [], "clean"),
    "kagura-rel-type": ("examples/kagura", "graph.jsonl", [('"rel_type": "works_on"', '"rel_type": "befriends"')], "errors"),
    "kagura-working-metadata": (
        "examples/kagura",
        "memories.jsonl",
        [('"quarterly report"', '"quarterly report", "metadata": {"a": 1}')],
        "errors",
    ),
    "kagura-z-time": ("examples/kagura", "memories.jsonl", [('"2025-05-30 08:15:02"', '"2025-05-30T08:15:02Z"')], "warnings"),
    "kagura-node-type": ("examples/kagura", "graph.jsonl", [('"node_type": "topic"', '"node_type": "planet"')], "errors"),
    "kagura-node-time": ("examples/kagura", "graph.jsonl", [('"2025-06-01T11:59:58.000100"', '"2025-06-01T11:59:58Z"')], "warnings"),
    "kagura-metadata-time": (
        "examples/kagura",
        "metadata.json",
        [('"2025-06-01T12:00:00.125000"', '"2025-06-01T12:00:00.125Z"')],
        "warnings",
    ),
    # stats is a warning node, but its counts carry no note of their own: errors (see the report)
    "kagura-stats": ("examples/kagura", "metadata.json", [('"memories": 4', '"memories": "4"')], "errors"),
    "tribal": ("examples/tribal.json", None, [], "clean"),
    "tribal-desktop": ("examples/diverged/desktop.json", None, [], "clean"),
    "tribal-laptop": ("examples/diverged/laptop.json", None, [], "clean"),
    "tribal-tags": ("examples/tribal.json", None, [('"tags": ["preferences"]', '"tags": null')], "errors"),
    "tribal-dimensions": ("examples/tribal.json", None, [('"dimensions": 3', '"dimensions": "3"')], "errors"),
    "tribal-z-time": ("examples/tribal.json", None, [('000200+00:00"}', '000200Z"}')], "warnings"),
    "tribal-source": ("examples/tribal.json", None, [('"source_instance": "laptop-alice"', '"source_instance": 7')], "warnings"),
    "doclea": ("examples/doclea.json", None, [], "warnings"),  # the 'knowledge' type
    # left: a warning no schema gives (Doclea's importer cannot import memory relations)
    "doclea-note": ("examples/doclea.json", None, [('"type": "knowledge"', '"type": "note"')], "warnings"),
    "doclea-relation": ("examples/doclea.json", None, [('"metadata": "{\\"reason\\":\\"newer decision\\"}"', '"metadata": {}')], "errors"),
    "doclea-importance": ("examples/doclea.json", None, [('"importance": 0.8', '"importance": {"level": 0.8}')], "errors"),
    "doclea-document": ("examples/doclea.json", None, [('"contentHash": "abc123"', '"contentHash": ["abc123"]')], "errors"),
    "doclea-chunk-content": ("examples/doclea.json", None, [('"content": "Intro",', '"content": null,')], "errors"),
    "doclea-confidence": ("examples/doclea.json", None, [('"confidence": 0.9', '"confidence": "0.9"')], "errors"),
    "doclea-chunk": ("examples/doclea.json", None, [('"startOffset": 3', '"startOffset": "3"')], "warnings"),
    "doclea-cross": ("examples/doclea.json", None, [('"direction": "memory_to_code"', '"direction": "sideways"')], "warnings"),
    "doclea-pending-id": ("examples/doclea.json", None, [('"id": "pnd_QwErTyUiOpAsDfGh"', '"id": 5')], "errors"),
    "doclea-pending": ("examples/doclea.json", None, [('"suggestedAt": 1748779100', '"suggestedAt": 1748779100000')], "warnings"),
    "doclea-metadata": ("examples/doclea.json", None, [('"totalMemories": 2', '"totalMemories": 2, "extra": 1')], "warnings"),
    # Letta: the exporter's file (an agent, its sleeptime helper, a file, a tool of each kind), one
    # rule broken a fixture
    "letta": (LETTA, None, [('"skills": []', SKILL)], "clean"),
    "letta-metadata": (LETTA, None, [('"revision_id": "f6cd5a1e519d"', '"revision_id": 5')], "errors"),
    "letta-top-key": (LETTA, None, [('"skills": [],', '"skills": [],\n  "exported_by": "me",')], "warnings"),
    "letta-agent": (LETTA, None, [('"description": "A companion that remembers"', '"description": 5')], "errors"),
    "letta-agent-key": (LETTA, None, [('"metadata": null,', '"metadata": null,\n      "mood": "calm",')], "warnings"),
    "letta-message": (LETTA, None, [('"role": "user"', '"role": "robot"')], "errors"),
    "letta-message-key": (LETTA, None, [('"role": "user",', '"role": "user",\n          "mood": "calm",')], "warnings"),
    "letta-files-agent": (LETTA, None, [('"is_open": true', '"is_open": "yes"')], "errors"),
    "letta-block": (LETTA, None, [('"limit": 5000', '"limit": 5.5')], "errors"),
    "letta-block-key": (LETTA, None, [('"read_only": false,', '"read_only": false,\n      "colour": "blue",')], "warnings"),
    "letta-file": (LETTA, None, [('"file_size": 28', '"file_size": "28 bytes"')], "errors"),
    "letta-source": (LETTA, None, [('"description": "Sailing race notes"', '"description": ["notes"]')], "errors"),
    "letta-tool": (LETTA, None, [('"tool_type": "letta_core"', '"tool_type": "magic"')], "errors"),
    "letta-group": (
        LETTA,
        None,
        [('"hidden": null\n    }\n  ],\n  "blocks"', '"hidden": null,\n      "owner": "me"\n    }\n  ],\n  "blocks"')],
        "warnings",
    ),
    "letta-group-value": (LETTA, None, [('"description": "companion and its sleeptime memory manager"', '"description": 7')], "errors"),
    "letta-mcp-server": (LETTA, None, [('"server_type": "streamable_http"', '"server_type": 7')], "errors"),
    "letta-mcp-url": (LETTA, None, [('/weather/mcp"', '/weather/mcp?token=abc"')], "warnings"),
    "letta-skill": (LETTA, None, [('"skills": []', SKILL.replace('"# Slack"', "7"))], "errors"),
    # the legacy shape: Letta 0.16 refuses all of it (letta.bundle.legacy, an error of the whole
    # file no record's schema sees); the fixture's agent gets a name Letta 0.16 takes (its own,
    # "memgpt.agent/v1", is a warning of memport's checks, no schema's)
    "letta-legacy": (LETTA_LEGACY, None, [LEGACY_NAME], "errors"),
    "letta-legacy-tags": (LETTA_LEGACY, None, [LEGACY_NAME, ('"tags":[{"tag":"memgpt"}]', '"tags":"memgpt"')], "errors"),
    "letta-legacy-block": (LETTA_LEGACY, None, [LEGACY_NAME, ('"limit":5000', '"limit":"5k"')], "errors"),
    "letta-legacy-block-type": (LETTA_LEGACY, None, [LEGACY_NAME, ('"core_memory":[', '"core_memory":["persona",')], "errors"),
    "letta-legacy-message": (LETTA_LEGACY, None, [LEGACY_NAME, ('"role":"user"', '"role":"robot"')], "errors"),
    "letta-legacy-message-type": (LETTA_LEGACY, None, [LEGACY_NAME, ('"messages":[', '"messages":["hello",')], "errors"),
    "letta-legacy-tool": (
        LETTA_LEGACY,
        None,
        [LEGACY_NAME, ('"name":"send_message","return_char_limit"', '"name":7,"return_char_limit"')],
        "errors",
    ),
}
DOCLEA_SECTIONS = {
    "memories": "memory",
    "documents": "document",
    "chunks": "chunk",
    "memoryRelations": "memory-relation",
    "crossLayerRelations": "cross-layer-relation",
    "pendingMemories": "pending-memory",
}


def shipped_files() -> list[Path]:
    return sorted(SCHEMAS.glob("**/*.schema.json"))


def make_fixture(name: str, folder: Path) -> Path:
    """A copy of an example with textual edits (so the layout stays the native writer's)."""
    example, inner, edits, _ = FIXTURES[name]
    source = ROOT / example
    target = folder / (name + source.suffix)
    (shutil.copytree if source.is_dir() else shutil.copyfile)(source, target)
    if edits:
        edited = target / inner if inner else target
        text = edited.read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, (name, old)
            text = text.replace(old, new, 1)
        edited.write_text(text, encoding="utf-8")
    return target


def within(prefix: str) -> Callable[[Problem], bool]:
    return lambda p: p.path is not None and (p.path == prefix or p.path.startswith((prefix + ".", prefix + "[")))


def records(bundle: Path, fmt: str) -> Iterator[tuple[str, Any, Path | None, Callable[[Problem], bool]]]:
    """What a plain validator checks in a bundle: (schema name, instance, the file that is the whole
    instance or None, which of memport's problems are about it)."""
    if fmt == "kagura":
        for file, schema in (("memories.jsonl", "memory"), ("graph.jsonl", "graph")):
            for number, line in enumerate((bundle / file).read_text(encoding="utf-8").splitlines(), 1):
                value = json.loads(line)
                about = lambda p, file=file, number=number: Path(p.file or "").name == file and p.line == number  # noqa: E731
                yield schema, value, None, about
                if schema == "graph":  # a node or an edge alone, as graph.schema.json sends it on
                    yield value["type"], value, None, about
        metadata = bundle / "metadata.json"
        yield "metadata", json.loads(metadata.read_text(encoding="utf-8")), metadata, lambda p: Path(p.file or "").name == "metadata.json"
        return
    document = json.loads(bundle.read_text(encoding="utf-8"))
    if fmt == "letta":
        yield from letta_records(bundle, document)
        return
    yield "bundle", document, bundle, lambda p: True
    sections = {("entries",): "entry"} if fmt == "tribal" else {("data", section): name for section, name in DOCLEA_SECTIONS.items()}
    for keys, schema in sections.items():
        items = document
        for key in keys:
            items = items[key]
        for index, item in enumerate(items):
            yield schema, item, None, within("$." + ".".join(keys) + f"[{index}]")


# the arrays of an agent file whose elements have schemas of their own (agents' within the agent)
LETTA_ITEMS = {
    "current": {
        "agents": "agent",
        "blocks": "block",
        "files": "file",
        "sources": "source",
        "tools": "tool",
        "groups": "group",
        "mcp_servers": "mcp-server",
        "skills": "skill",
    },
    "legacy": {"core_memory": "block", "messages": "message", "tools": "tool"},
}
LETTA_AGENT_ITEMS = {"messages": "message", "files_agents": "files-agent"}
# what validation says of a file's bytes or of its shape as a whole (Letta 0.16 refuses the legacy
# shape whatever it holds), which no schema of its document sees
LETTA_FILE_LEVEL = {
    "letta.bundle.legacy",
    "letta.bundle.layout",
    "letta.bundle.bom",
    "letta.bundle.encoding",
    "letta.bundle.double-encoded",
}


def only(prefix: str, nested: list[str]) -> Callable[[Problem], bool]:
    """The problems about an instance at ``prefix`` that are not about its elements with schemas of
    their own (``nested``: their arrays' paths), nor about the file's bytes."""
    inside = within(prefix)
    return lambda p: inside(p) and p.code not in LETTA_FILE_LEVEL and not any(p.path.startswith(n + "[") for n in nested)


def letta_records(bundle: Path, document: dict[str, Any]) -> Iterator[tuple[str, Any, Path | None, Callable[[Problem], bool]]]:
    """An agent file: the document (the legacy one is its agent), each element of its arrays, and
    each agent's messages and file views."""
    shape = "current" if "agents" in document else "legacy"
    arrays = LETTA_ITEMS[shape]
    yield ("bundle" if shape == "current" else "agent"), document, bundle, only("$", [f"$.{key}" for key in arrays])
    for key, schema in arrays.items():
        for index, item in enumerate(document.get(key) or []):
            path = f"$.{key}[{index}]"
            nested = [f"{path}.{inner}" for inner in LETTA_AGENT_ITEMS] if key == "agents" else []
            yield schema, item, None, only(path, nested)
            if key == "agents" and isinstance(item, dict):
                for inner, inner_schema in LETTA_AGENT_ITEMS.items():
                    for position, element in enumerate(item.get(inner) or []):
                        yield inner_schema, element, None, only(f"{path}.{inner}[{position}]", [])


def codes_a_schema_gives() -> set[str]:
    """Every problem code the schemas can give: their notes' codes, and ``<kind>.<keyword>`` for a
    rule without a note. memport's other problems come from checks across records and layouts."""
    notes, kinds, keywords = set(), set(), set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keywords.update(node)
            if isinstance(node.get("x-memport"), dict):
                notes.add(node["x-memport"]["code"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for file in SCHEMAS.glob("*/*/*.schema.json"):
        doc = json.loads(file.read_text())
        kinds.add(doc["x-memport-kind"])
        walk(doc)
    return notes | {f"{kind}.{keyword}" for kind in kinds for keyword in keywords}


def offline_registry(files: list[Path], fetched: list[str]) -> Registry:
    """The files on disk by their ``$id``; a fetch is recorded (the test fails on it) and refused."""

    def retrieve(uri: str) -> Resource:
        fetched.append(uri)
        raise NoSuchResource(ref=uri)

    resources = [(doc["$id"], Resource.from_contents(doc)) for doc in (json.loads(f.read_text()) for f in files)]
    return Registry(retrieve=retrieve).with_resources(resources)  # type: ignore[call-arg]


def check_jsonschema(schema: Path, instances: list[Path], *extra: str) -> set[str]:
    """The instance files check-jsonschema fails (its own CLI, in this process: one start instead of
    one per schema file), offline, without a cache or a base URI."""
    args = ["--no-cache", "--output-format", "json", *extra, "--schemafile", str(schema), *map(str, instances)]
    result = CliRunner().invoke(check_jsonschema_main, args)
    assert result.exit_code in (0, 1) and result.stdout.startswith("{"), (schema, result.output)
    report = json.loads(result.stdout)
    assert not report.get("parse_errors") and (result.exit_code == 0) == (report["status"] == "ok"), report
    return {error["filename"] for error in report["errors"]}


def test_the_shipped_schema_files_are_what_the_generator_writes():
    # after editing a schema: python -c 'import memport.schemas as s; s.write_standalone_files()'
    on_disk = {str(file.relative_to(SCHEMAS)): file.read_text(encoding="utf-8") for file in shipped_files()}
    written = standalone_files(SCHEMAS)
    assert sorted(on_disk) == sorted(written)
    for name, text in written.items():
        assert on_disk[name] == text, f"schemas/{name} is not what memport.schemas.write_standalone_files writes"


def test_every_schema_file_is_draft_2020_12_with_a_versioned_id_and_an_errors_only_twin():
    files = shipped_files()
    full = [f for f in files if f.parent.name != ERRORS_ONLY]
    assert len(full) >= 14 and sorted(f.parent / ERRORS_ONLY / f.name for f in full) == [f for f in files if f not in full]
    ids = set()
    for file in files:
        doc = json.loads(file.read_text())
        Draft202012Validator.check_schema(doc)
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        # absolute, versioned, and the file's own path under SCHEMA_BASE: a relative $ref means the
        # same file whether it is resolved against the $id or against where the file lies
        assert doc["$id"] == SCHEMA_BASE + file.relative_to(SCHEMAS).as_posix()
        assert doc["$id"] not in ids and "x-memport-kind" in doc
        ids.add(doc["$id"])


def test_the_schema_files_stand_alone_and_agree_with_memport_validate(tmp_path, monkeypatch):
    for variable, value in OFFLINE.items():
        monkeypatch.setenv(variable, value)
    codes = codes_a_schema_gives()
    fetched: list[str] = []
    registry = offline_registry(shipped_files(), fetched)  # every file on disk, by $id
    # schema file -> (label, instance, the file holding exactly it or None, expected verdict)
    cases: dict[Path, list[tuple[str, Any, Path | None, bool]]] = {}
    said = {}
    for name in FIXTURES:
        bundle = make_fixture(name, tmp_path)
        report = memport.validate(bundle)
        said[name] = "errors" if report.errors else "warnings" if report.warnings else "clean"
        folder = SCHEMAS / str(report.format) / str(report.version)
        for number, (schema, instance, whole, about) in enumerate(records(bundle, str(report.format))):
            problems = [p for p in report.problems if about(p)]
            label = f"{name} #{number}"
            # errors-only: would the system's own importer accept it? The full schema: would memport
            # find nothing at all (warnings included) that a schema can see?
            cases.setdefault(folder / ERRORS_ONLY / f"{schema}.schema.json", []).append(
                (label, instance, whole, not any(p.severity == "error" for p in problems))
            )
            cases.setdefault(folder / f"{schema}.schema.json", []).append(
                (label, instance, whole, not any(p.code in codes for p in problems))
            )
    assert said == {name: fixture[3] for name, fixture in FIXTURES.items()}  # each fixture means what it says
    assert sorted(cases) == shipped_files()  # every schema file is checked this way
    # each file passes some instances and fails others, but for two errors-only twins no file can
    # fail: memport reports every problem of a legacy tool as a warning (Letta 0.16 refuses the
    # legacy shape as a whole: what the upgrade leaves out is no error), and the one error rule of
    # the legacy agent (an object) is what detection requires
    always = {SCHEMAS / "letta" / "legacy" / ERRORS_ONLY / f"{name}.schema.json" for name in ("tool", "agent")}
    assert [file for file, items in cases.items() if len({verdict for *_, verdict in items}) != 2] == sorted(always)
    assert all(verdict for file in always for *_, verdict in cases[file])
    for schema_file, items in cases.items():
        expected = [(label, verdict) for label, _, _, verdict in items]
        schema = json.loads(schema_file.read_text())
        alone = Draft202012Validator(schema, registry=Registry())  # nothing but the file itself
        assert [(label, alone.is_valid(instance)) for label, instance, _, _ in items] == expected, schema_file
        by_id = Draft202012Validator(schema, registry=registry)
        assert [(label, by_id.is_valid(instance)) for label, instance, _, _ in items] == expected, schema_file
        files = []
        for number, (_, instance, whole, _) in enumerate(items):
            if whole is None:
                whole = tmp_path / "instances" / schema_file.parent.name / f"{schema_file.stem}-{number}.json"
                whole.parent.mkdir(parents=True, exist_ok=True)
                whole.write_text(json.dumps(instance))
            files.append(whole)
        failing = check_jsonschema(schema_file, files)
        assert [(label, str(file) not in failing) for (label, *_), file in zip(items, files)] == expected, schema_file
    assert fetched == []


def test_checks_across_records_are_memport_s_own(tmp_path):
    # an edge to a node that is not there: each line fits its schema; memport validate finds the end missing
    bundle = tmp_path / "kagura"
    shutil.copytree(ROOT / "examples" / "kagura", bundle)
    graph = bundle / "graph.jsonl"
    graph.write_text(graph.read_text().replace('"dst": "topic_python"', '"dst": "topic_rust"'))
    report = memport.validate(bundle)
    assert [(p.code, p.line) for p in report.errors] == [("kagura.edge.dangling", 3)]
    lines = []
    for number, line in enumerate(graph.read_text().splitlines()):
        lines.append(tmp_path / f"line-{number}.json")
        lines[-1].write_text(line)
    assert check_jsonschema(SCHEMAS / "kagura" / "1.0" / ERRORS_ONLY / "graph.schema.json", lines) == set()


def test_a_project_pins_a_schema_by_its_id_or_a_vendored_copy_offline(tmp_path, monkeypatch):
    for variable, value in OFFLINE.items():
        monkeypatch.setenv(variable, value)
    pinned = "https://memport.dev/schemas/tribal/1.0/errors-only/bundle.schema.json"
    good = json.loads((ROOT / "examples" / "tribal.json").read_text())
    bad = json.loads((ROOT / "examples" / "tribal.json").read_text().replace('"tags": ["preferences"]', '"tags": null', 1))
    # python-jsonschema: another project's schema refers to ours by its $id; the registry holds our files
    theirs = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.org/backup.schema.json"}
    theirs |= {"type": "object", "properties": {"tribal": {"$ref": pinned}}, "required": ["tribal"]}
    fetched: list[str] = []
    validator = Draft202012Validator(theirs, registry=offline_registry(shipped_files(), fetched))
    assert validator.is_valid({"tribal": good}) and not validator.is_valid({"tribal": bad}) and fetched == []
    # check-jsonschema: their schema file refers to a copy of ours kept beside it, by a relative path
    shutil.copytree(SCHEMAS, tmp_path / "vendor" / "memport-schemas")
    theirs_file = tmp_path / "backup.schema.json"  # no $id: its base URI is where it lies
    vendored = {"tribal": {"$ref": "vendor/memport-schemas/tribal/1.0/errors-only/bundle.schema.json"}}
    theirs_file.write_text(json.dumps({key: value for key, value in theirs.items() if key != "$id"} | {"properties": vendored}))
    instances = [tmp_path / "good.json", tmp_path / "bad.json"]
    for file, value in zip(instances, (good, bad)):
        file.write_text(json.dumps({"tribal": value}))
    assert check_jsonschema(theirs_file, instances) == {str(tmp_path / "bad.json")}


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("#### Using the schemas elsewhere")
    return text[start : text.index("\n## ", start)]  # up to the next section (the bash comments start with # too)


def test_the_readme_commands_run_as_they_say(tmp_path):
    section = readme_section()
    shell = re.search(r"```bash\n(.*?)```", section, re.S)
    python = re.search(r"```python\n(.*?)```", section, re.S)
    assert shell and python
    for name in ("schemas", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, **OFFLINE, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    commands = [line for line in shell.group(1).splitlines() if line and not line.startswith(("#", "pip install"))]
    assert len(commands) >= 4
    running = [
        (line, subprocess.Popen(["bash", "-c", line], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for line in commands
    ]
    for line, process in running:
        output, _ = process.communicate()
        assert process.returncode == (1 if "# exit 1" in line else 0), (line, output)
    done = subprocess.run([sys.executable, "-c", python.group(1)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "accepted\n", done.stderr


def test_every_reference_resolves_inside_its_file():
    # resolved as the spec says (against the $id of the schema resource that holds it), with an
    # empty registry: every $ref names the file itself or a copy embedded in it
    for file in shipped_files():
        doc = json.loads(file.read_text())
        resolver = Registry().with_resource(doc["$id"], Resource.from_contents(doc)).resolver()
        copies = {key: sub for key, sub in doc.get("$defs", {}).items() if isinstance(sub, dict) and "$id" in sub}
        own = {**doc, "$defs": {key: sub for key, sub in doc.get("$defs", {}).items() if key not in copies}}
        for resource in (own, *copies.values()):
            references = re.findall(r'"\$ref": "([^"]+)"', json.dumps(resource))
            for reference in references:
                resolver.lookup(urljoin(resource["$id"], reference))  # raises Unresolvable otherwise
        assert copies or "$ref" not in json.dumps(own).replace('"$ref": "#', "")  # only a file without outside references embeds nothing
