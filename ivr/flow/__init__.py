"""The call flow: what call_flows.yaml and prompts/ say, checked and ready to serve.

model (the dataclasses), schema (each section's fields), source (the YAML with its lines),
one reader per section (line, languages, counselors, routing, menus, messages; hours in
ivr.hours), checks (across sections), prompts (the files) and builder (check_flow, load_flow).
"""
from ivr.flow import schema
from ivr.flow.builder import check_flow, load_flow
from ivr.flow.model import (COUNSELOR, KEYS, REPEAT, SPECIAL_TARGETS, VOICEMAIL, WORDS_PER_SECOND, Flow, Group,
                            Language, Menu, speech_seconds)
from ivr.flow.schema import MESSAGES, PLACEHOLDERS, WANTED
from ivr.problem import FlowError, Problem

__all__ = ["check_flow", "load_flow", "Flow", "Group", "Language", "Menu", "COUNSELOR", "KEYS", "REPEAT",
           "SPECIAL_TARGETS", "VOICEMAIL", "WORDS_PER_SECOND", "speech_seconds", "MESSAGES", "PLACEHOLDERS",
           "WANTED", "schema", "FlowError", "Problem"]
