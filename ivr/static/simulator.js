// The browser phone: sends each step to the line's JSON API and shows what the caller hears.
// The server plays the line's real TwiML; this page only draws and speaks the result.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("config").textContent);
  const $ = (id) => document.getElementById(id);
  const transcript = $("transcript");
  let held = null;      // the call's position, handed back to the server on the next step
  let waiting = null;   // "gather", "dial", "record" or null
  let busy = false;
  let sound = false;
  let here = null;      // the diagram node the call is at

  // -- talking to the line ----------------------------------------------------------------
  async function send(body) {
    if (busy) return;
    busy = true;
    update();
    try {
      const response = await fetch(config.api, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({ error: "The server answered with something that is not JSON (status " + response.status + ")." }));
      if (!response.ok) {
        addLine({ kind: "error", text: data.error || "The step failed (status " + response.status + ")." });
        return;
      }
      data.lines.forEach(addLine);
      held = data.call;
      waiting = data.waiting;
      $("when").textContent = "Time of the call: " + data.when;
      $("where").textContent = data.where.label;
      highlight(data.where.graph);
    } catch (error) {
      addLine({ kind: "error", text: "Could not reach the line: " + error.message });
    } finally {
      busy = false;
      update();
    }
  }

  function step(action, extra) {
    return send(Object.assign({ do: action, call: held }, extra || {}));
  }

  function placeCall() {
    if (window.speechSynthesis) window.speechSynthesis.cancel();
    transcript.replaceChildren();
    held = null;
    waiting = null;
    const when = document.querySelector("input[name=when]:checked").value;
    const lang = document.querySelector("input[name=lang]:checked").value;
    if (when === "at" && !$("at").value) {
      addLine({ kind: "error", text: "Pick a date and time for the call first." });
      $("at").focus();
      return;
    }
    send({ do: "call", when: when, at: $("at").value, lang: lang });
  }

  // -- the transcript ---------------------------------------------------------------------
  const SOURCES = {
    say: (l) => "The line · " + place(l) + (l.prompt ? " · prompt “" + l.prompt + "”" : ""),
    whisper: (l) => "The counselor's phone · whisper before the call is put through" + (l.prompt ? " · prompt “" + l.prompt + "”" : ""),
    wait: (l) => "The line waits · " + place(l),
    dial: (l) => "Transfer · from " + place(l),
    record: () => "Voicemail",
    hangup: () => "Hang-up",
    play: (l) => "The line · " + place(l),
    you: () => "You",
    error: () => "Problem",
  };

  function place(line) {
    if (!line.menu) return "";
    return line.menu_title === line.menu ? "menu “" + line.menu + "”" : "menu “" + line.menu + "” (" + line.menu_title + ")";
  }

  function addLine(line) {
    const item = document.createElement("li");
    item.className = "line " + line.kind;
    const source = document.createElement("span");
    source.className = "source";
    source.textContent = (SOURCES[line.kind] || (() => line.kind))(line);
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = line.text;
    if (line.lang) {
      text.lang = line.lang;
      const tag = document.createElement("span");
      tag.className = "lang";
      tag.textContent = line.lang;
      source.append(" · ", tag);
    }
    item.append(source, text);
    transcript.append(item);
    item.scrollIntoView({ block: "nearest" });
    if (sound && (line.kind === "say" || line.kind === "whisper")) speak(line.text, line.lang);
  }

  // -- speaking aloud ---------------------------------------------------------------------
  function speak(text, lang) {
    if (!window.speechSynthesis) return;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = lang || "en-US";
    utterance.rate = 0.95;
    const voices = window.speechSynthesis.getVoices();
    utterance.voice = voices.find((v) => v.lang === utterance.lang)
      || voices.find((v) => v.lang.slice(0, 2) === utterance.lang.slice(0, 2)) || null;
    window.speechSynthesis.speak(utterance);
  }

  function toggleSound() {
    sound = !sound;
    const button = $("sound");
    button.setAttribute("aria-pressed", String(sound));
    button.textContent = "Speak aloud: " + (sound ? "on" : "off");
    if (!sound && window.speechSynthesis) window.speechSynthesis.cancel();
    if (sound && !window.speechSynthesis) {
      addLine({ kind: "error", text: "This browser cannot speak aloud; the transcript still shows every word." });
    }
  }

  // -- which controls fit the moment ------------------------------------------------------
  function update() {
    const off = (on) => busy || !on;
    document.querySelectorAll(".key").forEach((key) => { key.disabled = off(waiting === "gather"); });
    $("words").disabled = off(waiting === "gather");
    $("say").disabled = off(waiting === "gather");
    $("silence").disabled = off(waiting === "gather" || waiting === "record");
    $("answer").disabled = off(waiting === "dial");
    $("no-answer").disabled = off(waiting === "dial");
    $("message").disabled = off(waiting === "record");
    $("hangup").disabled = off(waiting !== null);
    $("call").disabled = busy || waiting !== null;
    document.body.classList.toggle("busy", busy);
    $("status").textContent = busy ? "The line is answering…" : status();
  }

  function status() {
    switch (waiting) {
      case "gather": return "In a call. Press a key, say something, or stay silent.";
      case "dial": return "Ringing a counselor. Choose what the counselor does.";
      case "record": return "Recording. Leave a message, or stay silent.";
      default: return held === null && transcript.children.length ? "The call has ended. Press Call to call again." : "Not in a call. Choose a time and a language, then press Call.";
    }
  }

  // -- the flow diagram -------------------------------------------------------------------
  async function drawDiagram() {
    const box = $("diagram");
    if (!window.mermaid) {
      box.textContent = "The diagram library did not load.";
      return;
    }
    try {
      window.mermaid.initialize({
        startOnLoad: false, securityLevel: "strict", theme: "base",
        flowchart: { htmlLabels: false, curve: "basis" },
        themeVariables: {
          primaryColor: "#eef4f1", primaryBorderColor: "#6b8f80", primaryTextColor: "#1f2d28",
          lineColor: "#8aa39a", fontFamily: "system-ui, sans-serif", fontSize: "14px",
        },
      });
      const { svg } = await window.mermaid.render("flow-diagram", config.graph);
      box.innerHTML = svg;
      const drawn = box.querySelector("svg");
      drawn.setAttribute("role", "img");
      drawn.setAttribute("aria-label", "Diagram of the call flow");
      box.dataset.ready = "true";
      highlight(here);
    } catch (error) {
      box.textContent = "Could not draw the call flow: " + error.message;
    }
  }

  function nodeFor(id) {
    const pattern = new RegExp("^(?:.*-)?flowchart-" + id + "-\\d+$");
    return Array.from(document.querySelectorAll("#diagram g.node")).find((g) => pattern.test(g.id)) || null;
  }

  function highlight(id) {
    here = id;
    document.querySelectorAll("#diagram g.node.here").forEach((g) => g.classList.remove("here"));
    const node = id ? nodeFor(id) : null;
    if (node) node.classList.add("here");
    $("diagram").dataset.here = node ? id : "";
  }

  // -- wiring -----------------------------------------------------------------------------
  $("call").addEventListener("click", placeCall);
  $("hangup").addEventListener("click", () => {
    if (window.speechSynthesis) window.speechSynthesis.cancel();
    step("hang_up");
  });
  document.querySelectorAll(".key").forEach((key) => {
    key.addEventListener("click", () => step("press", { keys: key.dataset.key }));
  });
  $("speak").addEventListener("submit", (event) => {
    event.preventDefault();
    const words = $("words").value.trim();
    if (!words) return;
    $("words").value = "";
    step("say", { words: words });
  });
  $("silence").addEventListener("click", () => step("silence"));
  $("answer").addEventListener("click", () => step("answer"));
  $("no-answer").addEventListener("click", () => step("no_answer"));
  $("message").addEventListener("click", () => step("message"));
  $("sound").addEventListener("click", toggleSound);
  document.querySelectorAll("input[name=when]").forEach((radio) => {
    radio.addEventListener("change", () => {
      $("at").disabled = document.querySelector("input[name=when]:checked").value !== "at";
    });
  });
  document.addEventListener("keydown", (event) => {
    // Keys typed on the keyboard press the keypad, unless the caller is typing words.
    if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = document.querySelector('.key[data-key="' + CSS.escape(event.key) + '"]');
    if (key && !key.disabled) {
      event.preventDefault();
      key.click();
    }
  });

  update();
  drawDiagram();
})();
