#!/usr/bin/env python3
"""Validates readiness-probe's real JSON outputs against docs/schema/*.schema.json (docs/json.md).

    validate.py [--schemas DIR] [--fingerprints FILE] [SAMPLES_DIR]

1. Every schema is a valid draft 2020-12 schema (Draft202012Validator.check_schema), named
   NAME.schema.json with "$id": "urn:readiness-probe:NAME:N"; when it has a "schema" property,
   that is {"const": "readiness-probe/NAME/N"} (the version id every output carries).
2. A schema cannot change without a version bump: FILE (docs/schema/fingerprints.txt) has one
   line "readiness-probe/NAME/N SHA256" per published version, the SHA-256 of the schema's
   canonical JSON (keys sorted, no spaces). A schema whose hash differs from its version's line
   fails; a version with no line fails (add the line the message gives); so does a version
   lower than one already published.
3. With SAMPLES_DIR: every file NAME.SITUATION.json in it (or .jsonl: one document per line) is
   a real output; it must validate against NAME.schema.json (all schemas are in one registry,
   so "$ref": "urn:readiness-probe:run:1" works), carry the schema's version id in "schema"
   as its first key (unless the schema has no such property), have no duplicate keys, write every "integer"
   without a fraction and every "number" with one (so a field's type never depends on its value).
   Every schema must have at least one sample, and every sample a schema.
Exit 0 when all holds; otherwise 1, with one line per problem.
"""
import argparse, hashlib, json, os, re, sys

from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource

ap = argparse.ArgumentParser()
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap.add_argument("--schemas", default=os.path.join(root, "docs", "schema"))
ap.add_argument("--fingerprints", default=None)
ap.add_argument("samples", nargs="?")
args = ap.parse_args()
fingerprints_path = args.fingerprints or os.path.join(args.schemas, "fingerprints.txt")

problems = []
def problem(text):
    problems.append(text)

def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError("duplicate keys: " + ", ".join(dup))
    return dict(pairs)

# 1. The schemas.
schemas = {}      # NAME -> (path, schema, version id)
for fn in sorted(os.listdir(args.schemas)):
    if not fn.endswith(".json"):
        continue
    path = os.path.join(args.schemas, fn)
    m = re.fullmatch(r"([a-z][a-z0-9-]*)\.schema\.json", fn)
    if not m:
        problem(f"{path}: a schema file is named NAME.schema.json")
        continue
    name = m.group(1)
    try:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f, object_pairs_hook=no_duplicates)
        Draft202012Validator.check_schema(schema)
    except Exception as e:
        problem(f"{path}: not a valid draft 2020-12 schema: {e}")
        continue
    if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
        problem(f"{path}: \"$schema\" must be https://json-schema.org/draft/2020-12/schema")
    sid = schema.get("$id", "")
    m = re.fullmatch(r"urn:readiness-probe:([a-z][a-z0-9-]*):([1-9][0-9]*)", sid)
    if not m or m.group(1) != name:
        problem(f"{path}: \"$id\" must be urn:readiness-probe:{name}:N (N the version), not {sid!r}")
        continue
    version = f"readiness-probe/{name}/{m.group(2)}"
    field = schema.get("properties", {}).get("schema")
    if field is not None and field != {"const": version}:
        problem(f"{path}: properties.schema must be {{\"const\": \"{version}\"}} to match its $id {sid}")
    schemas[name] = (path, schema, version)

# 2. Fingerprints: no change without a new version.
def canonical_hash(schema):
    text = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

recorded = {}
try:
    with open(fingerprints_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or not re.fullmatch(r"readiness-probe/[a-z][a-z0-9-]*/[1-9][0-9]*", parts[0]) \
                    or not re.fullmatch(r"[0-9a-f]{64}", parts[1]):
                problem(f"{fingerprints_path}:{n}: expected `readiness-probe/NAME/N SHA256`")
                continue
            if parts[0] in recorded:
                problem(f"{fingerprints_path}:{n}: {parts[0]} is listed twice (a published version's hash never changes)")
            recorded[parts[0]] = parts[1]
except FileNotFoundError:
    problem(f"{fingerprints_path}: missing")

for name, (path, schema, version) in schemas.items():
    h = canonical_hash(schema)
    number = int(version.rsplit("/", 1)[1])
    published = [int(v.rsplit("/", 1)[1]) for v in recorded if v.rsplit("/", 1)[0] == f"readiness-probe/{name}"]
    if published and number < max(published):
        problem(f"{path}: version {version} is lower than the published readiness-probe/{name}/{max(published)}")
    if version not in recorded:
        problem(f"{path}: {version} has no fingerprint: if this is a new version (docs/json.md, \"Changing a schema\"), "
                f"add this line to {fingerprints_path}: {version} {h}")
    elif recorded[version] != h:
        problem(f"{path}: changed, but its version is still {version} (published with another content): bump the version "
                f"(\"$id\" urn:readiness-probe:{name}:{number + 1}, the \"schema\" const and the code that writes it), "
                f"note it in CHANGELOG.md, and add its fingerprint line (docs/json.md, \"Changing a schema\")")

# 3. The real outputs.
def strict_types():
    base = Draft202012Validator.TYPE_CHECKER
    def is_integer(_, v):
        return isinstance(v, int) and not isinstance(v, bool)
    def is_number(_, v):
        # Written with a fraction or an exponent: json gives a float.
        return isinstance(v, float)
    return base.redefine_many({"integer": is_integer, "number": is_number})

StrictValidator = validators.extend(Draft202012Validator, type_checker=strict_types())
registry = Registry().with_resources(
    [(schema["$id"], Resource.from_contents(schema)) for (_, schema, _) in schemas.values()])

count = 0
if args.samples:
    seen = set()
    for fn in sorted(os.listdir(args.samples)):
        path = os.path.join(args.samples, fn)
        m = re.fullmatch(r"([a-z][a-z0-9-]*)\.([A-Za-z0-9_-]+)\.(json|jsonl)", fn)
        if not m:
            problem(f"{path}: a sample is named NAME.SITUATION.json or .jsonl")
            continue
        name, kind = m.group(1), m.group(3)
        if name not in schemas:
            problem(f"{path}: no schema docs/schema/{name}.schema.json for this output")
            continue
        seen.add(name)
        _, schema, version = schemas[name]
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            problem(f"{path}: not UTF-8: {e}")
            continue
        docs = [line for line in text.split("\n") if line.strip()] if kind == "jsonl" else [text]
        if not docs:
            problem(f"{path}: empty")
        validator = StrictValidator(schema, registry=registry)
        for i, doc in enumerate(docs, 1):
            where = f"{path}" + (f" line {i}" if kind == "jsonl" else "")
            try:
                value = json.loads(doc, object_pairs_hook=no_duplicates)
            except Exception as e:
                problem(f"{where}: not JSON: {e}")
                continue
            count += 1
            if "schema" in schema.get("properties", {}):
                if not isinstance(value, dict) or value.get("schema") != version:
                    got = value.get("schema") if isinstance(value, dict) else None
                    problem(f"{where}: \"schema\" is {got!r}, not {version!r}")
                elif not re.match(r'\{\s*"schema"\s*:', doc):
                    problem(f"{where}: \"schema\" must be the first key (readers may look at the first bytes)")
            for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
                at = "/".join(str(p) for p in err.absolute_path) or "(top)"
                problem(f"{where}: {at}: {err.message}")
    for name, (path, _, _) in schemas.items():
        if name not in seen:
            problem(f"{path}: no real output was validated against it (the test that writes {args.samples} must produce one)")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"ok: {len(schemas)} schemas valid and fingerprinted" + (f"; {count} real outputs valid" if args.samples else ""))
