// rtt captions page: a listener view and a speaker view, no build step.
// Protocol: docs/protocol.md. Committed text is plain; partial text is tentative (grey, italic).
"use strict";

const LANGUAGES = { en: "English", de: "German", es: "Spanish", fr: "French", it: "Italian", pt: "Portuguese",
  nl: "Dutch", pl: "Polish", ru: "Russian", uk: "Ukrainian", tr: "Turkish", zh: "Chinese", ja: "Japanese", ko: "Korean" };
const DURABLE = new Set(["source_commit", "target_commit", "error", "end"]);
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = params.get("token");
  return `${scheme}://${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : "");
}

// One scrolling caption area: a paragraph per utterance, committed spans, one tentative span.
class CaptionView {
  constructor(el) { this.el = el; this.paragraphs = new Map(); this.partial = null; }

  paragraph(utterance) {
    let p = this.paragraphs.get(utterance);
    if (!p) {
      p = document.createElement("p");
      this.el.appendChild(p);
      this.paragraphs.set(utterance, p);
    }
    return p;
  }

  update(change) {
    const atBottom = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 40;
    change();
    if (atBottom) this.el.scrollTop = this.el.scrollHeight;  // auto-scroll unless the reader scrolled up
  }

  commit(utterance, text) {
    this.update(() => {
      this.clearPartial();
      const span = document.createElement("span");
      span.className = "commit";
      span.textContent = text + " ";
      this.paragraph(utterance).appendChild(span);
    });
  }

  tentative(utterance, text) {
    this.update(() => {
      if (!text) return this.clearPartial();
      if (!this.partial) {
        this.partial = document.createElement("span");
        this.partial.className = "partial";
      }
      this.partial.textContent = text;
      this.paragraph(utterance).appendChild(this.partial);  // moves it to the end
    });
  }

  clearPartial() {
    if (this.partial) this.partial.remove();
    this.partial = null;
  }

  show(frame) {
    switch (frame.type) {
      case "source_commit": case "target_commit": this.commit(frame.utterance, frame.text); break;
      case "source_partial": case "target_partial": this.tentative(frame.utterance, frame.text); break;
      case "speech_end": this.clearPartial(); break;
    }
  }

  clear() { this.el.replaceChildren(); this.paragraphs.clear(); this.partial = null; }
}

// ---- listener ----------------------------------------------------------------------------
const listener = { ws: null, since: {}, wanted: false, retry: 0, key: "" };

function fillLanguages() {
  const select = $("lang");
  const preferred = params.get("lang") || (navigator.language || "en").slice(0, 2);
  for (const [code, name] of Object.entries(LANGUAGES)) {
    const option = new Option(`${name} (${code})`, code, false, code === preferred);
    select.appendChild(option);
  }
  if (params.get("room")) { $("room").value = params.get("room"); $("speak-room").value = params.get("room"); }
}

function listen() {
  const room = $("room").value.trim();
  const lang = $("lang").value;
  const key = `${room}/${lang}/${$("show-source").checked}`;
  if (key !== listener.key) {  // a different room or language starts afresh
    listener.key = key; listener.since = {};
    captions.clear(); transcript.clear();
  }
  listener.wanted = true;
  $("join").hidden = true; $("leave").hidden = false;
  $("transcript").hidden = !$("show-source").checked;
  const ws = new WebSocket(socketUrl());
  listener.ws = ws;
  ws.onopen = () => {
    const join = { type: "join", room, languages: [lang], source: $("show-source").checked };
    if (Object.keys(listener.since).length) join.since = listener.since;
    ws.send(JSON.stringify(join));
  };
  ws.onmessage = (message) => onListenerFrame(JSON.parse(message.data));
  ws.onclose = (event) => {
    if (listener.ws !== ws) return;
    if (!listener.wanted) { setStatus("status", "Left the room."); return; }
    listener.retry = Math.min(listener.retry + 1, 5);
    const wait = 500 * 2 ** listener.retry;
    setStatus("status", `Connection lost (${event.code}); reconnecting in ${wait / 1000} s…`);
    setTimeout(() => { if (listener.wanted && listener.ws === ws) listen(); }, wait);
  };
}

function onListenerFrame(frame) {
  if (frame.type === "ready") {
    listener.retry = 0;
    setStatus("status", `Listening to ${frame.room} in ${$("lang").value}.`);
    return;
  }
  if (frame.channel !== undefined && DURABLE.has(frame.type)) listener.since[frame.channel] = frame.seq;
  if (frame.type === "error") setStatus("status", `Error (${frame.code}): ${frame.message}`);
  else if (frame.type === "end") setStatus("status", "The speaker stopped; waiting for more…");
  showLanguage("status", frame);
  (frame.channel === "source" ? transcript : captions).show(frame);
}

function leave() {
  listener.wanted = false;
  if (listener.ws) listener.ws.close(1000);
  $("join").hidden = false; $("leave").hidden = true;
}

// ---- speaker -----------------------------------------------------------------------------
const speaker = { ws: null, context: null, stream: null, node: null };

async function speak() {
  const room = $("speak-room").value.trim();
  const targets = $("speak-to").value.split(",").map((s) => s.trim()).filter(Boolean);
  $("speak-start").disabled = true;
  try {
    speaker.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false } });
    speaker.context = new AudioContext();
    await speaker.context.audioWorklet.addModule("worklet.js");
  } catch (error) {
    setStatus("speak-status", `No microphone: ${error.message}`);
    $("speak-start").disabled = false;
    return;
  }
  const ws = new WebSocket(socketUrl());
  ws.binaryType = "arraybuffer";
  speaker.ws = ws;
  speakerTranscript.clear(); speakerCaptions.clear();
  ws.onopen = () => ws.send(JSON.stringify({ type: "start", room, targets, rate: 16000, encoding: "pcm16le", channels: 1 }));
  ws.onmessage = (message) => onSpeakerFrame(JSON.parse(message.data));
  ws.onclose = (event) => { setStatus("speak-status", `Stopped (${event.code}${event.reason ? " " + event.reason : ""}).`); stopAudio(); };
  $("speak-stop").disabled = false;
}

function onSpeakerFrame(frame) {
  if (frame.type === "ready") {
    const source = speaker.context.createMediaStreamSource(speaker.stream);
    speaker.node = new AudioWorkletNode(speaker.context, "pcm16-writer", { processorOptions: { targetRate: 16000 } });
    speaker.node.port.onmessage = (e) => { if (speaker.ws && speaker.ws.readyState === WebSocket.OPEN) speaker.ws.send(e.data); };
    source.connect(speaker.node);
    setStatus("speak-status", `Speaking in room ${frame.room}.`);
    return;
  }
  if (frame.type === "error") setStatus("speak-status", `Error (${frame.code}): ${frame.message}`);
  showLanguage("speak-status", frame);
  (frame.channel === "source" ? speakerTranscript : speakerCaptions).show(frame);
}

function stopSpeaking() {
  $("speak-stop").disabled = true;
  stopAudio();
  if (speaker.ws && speaker.ws.readyState === WebSocket.OPEN) speaker.ws.send(JSON.stringify({ type: "stop" }));
  setStatus("speak-status", "Finishing what was said…");
}

function stopAudio() {
  if (speaker.node) { speaker.node.port.onmessage = null; speaker.node.disconnect(); speaker.node = null; }
  if (speaker.stream) { speaker.stream.getTracks().forEach((t) => t.stop()); speaker.stream = null; }
  if (speaker.context) { speaker.context.close(); speaker.context = null; }
  $("speak-start").disabled = false;
}

// ---- page --------------------------------------------------------------------------------
function setStatus(id, text) { $(id).textContent = text; }

// The speaker's language as detected (`auto`): "und" until decided, a warning when unsure.
function languageNote(frame) {
  if (frame.lang === "und") return "⚠ Detecting the speaker's language…";
  if (frame.language_probability == null) return "";  // given, not detected
  const p = Math.round(frame.language_probability * 100);
  return frame.language_probability < 0.8
    ? `⚠ The speaker's language may be ${frame.lang} (${p} %, unsure).`
    : `The speaker's language: ${frame.lang} (${p} %).`;
}

function showLanguage(statusId, frame) {
  if (frame.type !== "source_partial" && frame.type !== "source_commit") return;
  let note = $(statusId + "-language");
  if (!note) {
    note = document.createElement("p");
    note.id = statusId + "-language";
    note.className = "status language";
    $(statusId).after(note);
  }
  note.textContent = languageNote(frame);
}

function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === name);
  $("view-listen").hidden = name !== "listen";
  $("view-speak").hidden = name !== "speak";
}

const captions = new CaptionView($("captions"));
const transcript = new CaptionView($("transcript"));
const speakerCaptions = new CaptionView($("speak-captions"));
const speakerTranscript = new CaptionView($("speak-transcript"));

fillLanguages();
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
$("listen-form").addEventListener("submit", (e) => { e.preventDefault(); listen(); });
$("leave").addEventListener("click", leave);
$("speak-form").addEventListener("submit", (e) => { e.preventDefault(); speak(); });
$("speak-stop").addEventListener("click", stopSpeaking);
if (params.get("view") === "speak") showView("speak");
