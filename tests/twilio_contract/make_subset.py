"""Write the part of Twilio's OpenAPI description the line uses (run from the repository root).

    python tests/twilio_contract/make_subset.py ../shared/twilio/twilio_api_v2010.json

Whole path items are copied as Twilio wrote them, with every component they refer to (and
those refer to), so each operation the stand-in checks is Twilio's own, word for word.
"""
import json
import sys
from pathlib import Path

PATHS = [
    "/2010-04-01/Accounts/{AccountSid}/Calls.json",
    "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json",
    "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json",
    "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json",
]
OUT = Path(__file__).with_name("twilio_api_v2010.json")


def refs(value, found: set) -> None:
    """Collect every '#/components/...' reference inside a value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith("#/components/"):
                found.add(item)
            else:
                refs(item, found)
    elif isinstance(value, list):
        for item in value:
            refs(item, found)


def main(source: str) -> None:
    spec = json.loads(Path(source).read_text("utf-8"))
    paths = {path: spec["paths"][path] for path in PATHS}
    wanted, done = set(), set()
    refs(paths, wanted)
    components: dict = {"securitySchemes": spec["components"]["securitySchemes"]}
    while wanted - done:
        ref = sorted(wanted - done)[0]
        done.add(ref)
        _, _, kind, name = ref.split("/", 3)
        item = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = item
        refs(item, wanted)
    subset = {key: spec[key] for key in ("openapi", "info", "servers", "security") if key in spec}
    subset["info"] = {**subset["info"], "x-subset": "Only the operations the Recovery Helpline line "
                      "uses, copied whole from twilio_api_v2010.json by make_subset.py."}
    subset |= {"paths": paths, "components": components}
    OUT.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n", "utf-8")
    print(f"{OUT}: {len(paths)} paths, {sum(len(v) for v in components.values())} components")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/twilio/twilio_api_v2010.json")
