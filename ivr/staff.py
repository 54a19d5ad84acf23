"""Staff pages: behind IVR_STAFF_PASSWORD in production (every route of this blueprint)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template_string

from ivr.security import staff_refusal

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.before_request(staff_refusal)  # one gate for every staff route, present and future

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recovery Helpline: staff</title></head>
<body><h1>Recovery Helpline: staff</h1><ul>
{% for rule, doc in links %}<li><a href="{{ rule }}">{{ rule }}</a> {{ doc }}</li>{% endfor %}
</ul></body></html>
"""


@bp.get("/")
def index():
    """The staff pages there are, with links."""
    links = sorted((rule.rule, (current_app.view_functions[rule.endpoint].__doc__ or "").strip())
                   for rule in current_app.url_map.iter_rules()
                   if "GET" in rule.methods and not rule.arguments and rule.rule != "/staff/"
                   and rule.rule.startswith(("/staff", "/simulator")))
    return render_template_string(INDEX, links=links)
