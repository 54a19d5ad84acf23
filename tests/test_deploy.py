"""The Dockerfile and the deploy/ example, checked without a container engine."""
import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, free_port

PRODUCTION_SETTINGS = ("IVR_ENV", "TWILIO_AUTH_TOKEN", "IVR_PUBLIC_URL", "IVR_SECRET_KEY",
                       "IVR_STAFF_PASSWORD", "DATABASE_URL")


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _last(keyword: str) -> str:
    found = [args for key, args in dockerfile() if key == keyword]
    assert found, f"the Dockerfile has no {keyword}"
    return found[-1]


def _env() -> dict:
    env = {}
    for key, args in dockerfile():
        if key == "ENV":
            env.update(dict(pair.split("=", 1) for pair in args.split()))
    return env


def test_the_image_runs_as_a_numeric_non_root_user_that_exists():
    user = _last("USER").split(":")[0]
    assert user not in ("root", "0") and user.isdigit()
    keys = [key for key, _ in dockerfile()]
    assert keys.index("USER") < keys.index("CMD")
    created = " ".join(args for key, args in dockerfile() if key == "RUN")
    assert f"--uid {user}" in created


def test_the_image_serves_production_gunicorn_with_the_shipped_flow():
    assert json.loads(_last("CMD")) == ["gunicorn", "-c", "gunicorn.conf.py", "ivr:create_app()"]
    env = _env()
    assert env["IVR_ENV"] == "production" and env["IVR_CALL_FLOWS"] == "/app/call_flows.yaml"
    copied = [args.split()[:-1] for key, args in dockerfile() if key == "COPY"]
    for source in (s for group in copied for s in group):
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert _last("FROM").startswith("python:3.1")


@pytest.mark.slow
def test_the_healthcheck_asks_healthz_on_the_port_gunicorn_binds(serve):
    check = _last("HEALTHCHECK")
    port = _env()["IVR_BIND"].rsplit(":", 1)[1]
    assert f"http://127.0.0.1:{port}/healthz" in check and _last("EXPOSE") == port
    code = re.search(r'CMD python -c "(.*)"', check).group(1)
    server = serve(workers=1)
    here = code.replace(f"127.0.0.1:{port}", f"127.0.0.1:{server.port}")
    assert subprocess.run([sys.executable, "-c", here], timeout=10).returncode == 0
    nowhere = code.replace(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}")
    assert subprocess.run([sys.executable, "-c", nowhere], timeout=10, capture_output=True).returncode != 0


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_runs_several_replicas_against_postgresql(compose):
    ivr = compose["services"]["ivr"]
    assert ivr["deploy"]["replicas"] >= 2
    assert ivr["build"]["context"] == ".." and (ROOT / ivr["build"]["dockerfile"]).exists()
    assert compose["services"]["db"]["image"].startswith("postgres:")
    assert ivr["depends_on"]["db"]["condition"] == "service_healthy"
    env = ivr["environment"]
    assert set(PRODUCTION_SETTINGS) <= set(env)
    assert env["IVR_ENV"] == "production"
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["IVR_PUBLIC_URL"].startswith("https://")
    for name in ("TWILIO_AUTH_TOKEN", "IVR_SECRET_KEY", "IVR_STAFF_PASSWORD"):
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]+\}", env[name]), f"{name} must come from the environment"
    example = (ROOT / "deploy" / "env.example").read_text()
    for needed in set(re.findall(r"\$\{(\w+):\?", (ROOT / "deploy" / "compose.yaml").read_text())):
        assert re.search(rf"^{needed}=", example, re.M), f"env.example lacks {needed}"


def test_the_proxy_balances_without_stickiness_and_logs_no_queries(compose):
    proxy = compose["services"]["proxy"]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert any(v.startswith("./nginx.conf:") for v in proxy["volumes"])
    assert "proxy_pass http://ivr;" in conf and "server ivr:8000" in conf
    assert "ip_hash" not in conf and "sticky" not in conf
    assert re.search(r"proxy_next_upstream [^;]*non_idempotent", conf)
    log_format = re.search(r"log_format ivr ([^;]+);", conf).group(1)
    assert "$uri" in log_format and "$request_uri" not in log_format and "$args" not in log_format
    assert "$request " not in log_format + " "  # the request line carries the query string
    assert (ROOT / "deploy" / "README.md").exists()
