"""What a call-flow file may say: each section's fields, the line's own messages and the limits.

Public so the staff guide's test (tests/test_docs.py) and anyone adding a field read the same
tables the readers use: adding a YAML field starts here, then its section's reader.
"""
from __future__ import annotations

import re

# Each section's fields: name -> whether it is required.
TOP = {"line": True, "counselors": True, "routing": False, "hours": False, "start": True,
       "menus": True, "messages": False}
LINE = {"name": True, "languages": True, "counselor_key": False, "repeat_key": False,
        "tries": False, "wait_seconds": False, "record_seconds": False, "crisis_line": True,
        "number": False}
LANGUAGE = {"voice": True, "language": True, "key": False, "words": False,
            "counselor_words": False, "repeat_words": False, "name": False,
            "crisis_words": False, "callback_promise": False}
GROUP = {"ring": True, "seconds": False, "then": False, "order": False, "screen": False}
MENU = {"say": True, "intro": False, "options": False, "title": False, "words": False}

# What a missing required field looks like when written, for "add a line like ..." advice.
EXAMPLES = {"line": "line: {name: Recovery Helpline, languages: ...}", "counselors": "counselors: ...",
            "start": "start: welcome", "menus": "menus: ...", "name": "name: Recovery Helpline",
            "languages": "languages: {en: {voice: Polly.Joanna-Neural, language: en-US}}",
            "voice": "voice: Polly.Joanna-Neural", "language": "language: en-US",
            "ring": 'ring: ["+15555550100"]', "say": "say: detox_menu",
            "crisis_line": 'crisis_line: "+18002738255"'}

# The prompts the line itself speaks, by purpose; staff may point a purpose at another file.
MESSAGES = ("no_input", "wrong_key", "connecting", "still_trying", "put_through", "counselors_busy",
            "voicemail_intro", "message_saved", "goodbye", "after_hours", "whisper", "fallback_sorry",
            "safety_short", "crisis_now", "crisis_line", "crisis_whisper", "no_message", "not_saved")
# Placeholders a message must keep, so the line can fill them in.
PLACEHOLDERS = {"after_hours": ("{opens}",), "whisper": ("{line}", "{topic}")}
# Placeholders a message should keep (a warning, not an error: the line still works without them).
# Only for lines with more than one language: {language} names the caller's.
WANTED = {"whisper": ("{language}",)}
# Names the after-hours notice says ("on Monday, January 4"), from prompts/<language>/<file>.txt
# when there is one (else ivr.hours' own English or Spanish): how many each file lists, and which.
CALENDAR = {"day_names": (7, "day names, Monday first"), "month_names": (12, "month names, January first")}

PROMPT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
SAY_LIMIT = 3000  # Twilio's limit for one <Say> with an Amazon Polly voice
MAX_RING_SECONDS = 30
AUDIO_SUFFIXES = (".wav", ".mp3")
