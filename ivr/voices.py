"""The Twilio text-to-speech voices and speech languages we accept, in Twilio's spelling."""

# Amazon Polly voices Twilio offers, by the language each speaks. Neural voices take the
# "-Neural" suffix; standard ones are written bare. Kept short on purpose: add a voice here
# when staff need it, after checking it on Twilio's "Text-to-speech voices" page.
POLLY = {
    "en-US": {"Joanna", "Joanna-Neural", "Matthew", "Matthew-Neural", "Ivy", "Ivy-Neural",
              "Kendra", "Kendra-Neural", "Kimberly", "Kimberly-Neural", "Salli", "Salli-Neural",
              "Joey", "Joey-Neural", "Justin", "Justin-Neural", "Kevin-Neural", "Ruth-Neural",
              "Stephen-Neural", "Danielle-Neural", "Gregory-Neural"},
    "en-GB": {"Amy", "Amy-Neural", "Emma", "Emma-Neural", "Brian", "Brian-Neural", "Arthur-Neural"},
    "es-US": {"Lupe", "Lupe-Neural", "Penelope", "Miguel", "Pedro-Neural"},
    "es-MX": {"Mia", "Mia-Neural", "Andres-Neural"},
    "es-ES": {"Conchita", "Lucia", "Lucia-Neural", "Enrique", "Sergio-Neural"},
}

# Languages Twilio's <Say> and <Gather> speech recognition both understand, as it spells them.
LANGUAGES = {"en-US", "en-GB", "en-AU", "en-CA", "en-IN", "es-US", "es-MX", "es-ES"}

GENERIC = {"man", "woman", "alice"}


def voice_problem(voice: str, language: str) -> str | None:
    """Say what is wrong with a voice for a language, or None when Twilio offers it."""
    if voice in GENERIC:
        return None
    if not voice.startswith("Polly."):
        return (f"voice '{voice}' is not one Twilio offers in that form; write it like "
                "'Polly.Joanna-Neural'")
    name = voice[len("Polly."):]
    for lang, names in POLLY.items():
        if name in names:
            if lang != language:
                return f"voice '{voice}' speaks {lang}, not {language}; pick a voice that speaks {language}"
            return None
    known = sorted(f"Polly.{n}" for n in POLLY.get(language, ()))
    hint = f" ({language} voices: {', '.join(known)})" if known else ""
    return f"voice '{voice}' is not a Twilio Polly voice we know{hint}"
