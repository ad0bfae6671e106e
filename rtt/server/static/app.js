// rtt captions page: a listener view and a speaker view, no build step.
// Protocol: docs/protocol.md. Committed text is plain; partial text is tentative (grey, italic).
"use strict";

const LANGUAGES = { en: "English", de: "German", es: "Spanish", fr: "French", it: "Italian", pt: "Portuguese",
  nl: "Dutch", pl: "Polish", ru: "Russian", uk: "Ukrainian", tr: "Turkish", zh: "Chinese", ja: "Japanese", ko: "Korean" };
const DURABLE = new Set(["source_commit", "target_append", "target_commit", "error", "end"]);
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

// The token: from the URL fragment (#token=T, never sent to any server or log), else asked for
// once the server refuses us; kept for this tab only. A legacy ?token= is moved to the fragment.
const credentials = { token: null, asked: false };
(function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  credentials.token = fragment.get("token") || params.get("token") || sessionStorage.getItem("rtt-token");
  if (fragment.has("token") || params.has("token")) {
    params.delete("token"); fragment.delete("token");
    const query = params.toString(), hash = fragment.toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + (hash ? "#" + hash : ""));
  }
  if (credentials.token) sessionStorage.setItem("rtt-token", credentials.token);
})();

function askToken() {  // after a refused handshake (a browser sees only close code 1006)
  if (credentials.asked) return false;
  credentials.asked = true;
  const token = window.prompt("This server needs an access token:");
  if (!token) return false;
  credentials.token = token;
  sessionStorage.setItem("rtt-token", token);
  return true;
}

function openSocket() {  // the token travels as a subprotocol, not in the URL
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/ws`;
  if (!credentials.token) return new WebSocket(url);
  const encoded = btoa(unescape(encodeURIComponent(credentials.token)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return new WebSocket(url, ["rtt", "rtt.bearer." + encoded]);
}

const countWords = (text) => text.split(/\s+/).filter(Boolean).length;

// One scrolling caption area: a paragraph per utterance, committed spans, one tentative span.
// A translated sentence's words can commit before it ends (target_append): they grow a committed
// span of the open sentence, and its partial shows only the words after them.
class CaptionView {
  constructor(el) { this.el = el; this.paragraphs = new Map(); this.partial = null; this.open = new Map(); }

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

  append(frame) {  // committed words of an open sentence; a repeat (a replay) is skipped
    this.update(() => {
      let open = this.open.get(frame.sentence);
      if (!open) {
        open = { span: document.createElement("span"), words: 0 };
        open.span.className = "commit";
        this.open.set(frame.sentence, open);
        this.paragraph(frame.utterance).appendChild(open.span);
      }
      if ((frame.offset ?? open.words) < open.words) return;
      open.words += countWords(frame.text);
      open.span.textContent += frame.text + " ";
      if (this.partial) this.paragraph(frame.utterance).appendChild(this.partial);  // after it
    });
  }

  commit(utterance, text, sentence) {
    const open = sentence === undefined ? null : this.open.get(sentence);
    if (open) {  // the final sentence begins with its appended words: it replaces them
      this.open.delete(sentence);
      return this.update(() => { this.clearPartial(); open.span.textContent = text + " "; });
    }
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

  tail(frame) {  // a partial translation less the words already committed
    const open = this.open.get(frame.sentence);
    return open ? frame.text.split(/\s+/).filter(Boolean).slice(open.words).join(" ") : frame.text;
  }

  clearPartial() {
    if (this.partial) this.partial.remove();
    this.partial = null;
  }

  show(frame) {
    switch (frame.type) {
      case "source_commit": this.commit(frame.utterance, frame.text); break;
      case "target_commit": this.commit(frame.utterance, frame.text, frame.sentence); break;
      case "target_append": this.append(frame); break;
      case "source_partial": this.tentative(frame.utterance, frame.text); break;
      case "target_partial": this.tentative(frame.utterance, this.tail(frame)); break;
      case "speech_end": this.clearPartial(); break;
    }
  }

  clear() { this.el.replaceChildren(); this.paragraphs.clear(); this.partial = null; this.open.clear(); }
}

// ---- listener ----------------------------------------------------------------------------
const listener = { ws: null, since: {}, epochs: {}, wanted: false, retry: 0, key: "", opened: false };

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
    listener.key = key; listener.since = {}; listener.epochs = {};
    captions.clear(); transcript.clear();
  }
  listener.wanted = true;
  $("join").hidden = true; $("leave").hidden = false;
  $("transcript").hidden = !$("show-source").checked;
  const ws = openSocket();
  listener.ws = ws;
  ws.onopen = () => {
    listener.opened = true;
    const join = { type: "join", room, languages: [lang], source: $("show-source").checked };
    if (Object.keys(listener.since).length) {
      join.since = listener.since;
      join.journal_epoch = listener.epochs;  // a since of another journal is replayed from its start
    }
    ws.send(JSON.stringify(join));
  };
  ws.onmessage = (message) => onListenerFrame(JSON.parse(message.data));
  ws.onclose = (event) => {
    if (listener.ws !== ws) return;
    if (!listener.wanted) { setStatus("status", "Left the room."); return; }
    if (event.code === 1006 && !listener.opened && askToken()) { listen(); return; }
    listener.retry = Math.min(listener.retry + 1, 5);
    const wait = 500 * 2 ** listener.retry;
    setStatus("status", `Connection lost (${event.code}); reconnecting in ${wait / 1000} s…`);
    setTimeout(() => { if (listener.wanted && listener.ws === ws) listen(); }, wait);
  };
}

function onListenerFrame(frame) {
  if (frame.type === "ready") {
    listener.retry = 0;
    for (const channel of frame.reset || []) delete listener.since[channel];
    Object.assign(listener.epochs, frame.journal_epoch || {});
    const note = (frame.reset || []).length ? " (the server has a new journal: catching up from its start)" : "";
    setStatus("status", `Listening to ${frame.room} in ${$("lang").value}.${note}`);
    return;
  }
  if (frame.channel !== undefined && DURABLE.has(frame.type) && Number.isInteger(frame.seq)) {
    listener.since[frame.channel] = frame.seq;
    if (frame.journal_epoch) listener.epochs[frame.channel] = frame.journal_epoch;
  }
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
  const input = $("speak-input").value;
  $("speak-start").disabled = true;
  try {
    speaker.stream = await captureAudio(input);
    speaker.context = new AudioContext();
    await speaker.context.audioWorklet.addModule("worklet.js");
  } catch (error) {
    if (speaker.stream) speaker.stream.getTracks().forEach((t) => t.stop());
    speaker.stream = null;
    setStatus("speak-status", `${input === "tab" ? "No tab audio" : "No microphone"}: ${error.message}`);
    $("speak-start").disabled = false;
    return;
  }
  // The browser's own "Stop sharing" ends the tab's tracks: stop as if Stop was pressed.
  for (const track of speaker.stream.getAudioTracks()) track.onended = () => { if (speaker.stream) stopSpeaking(); };
  const ws = openSocket();
  ws.binaryType = "arraybuffer";
  speaker.ws = ws;
  speakerTranscript.clear(); speakerCaptions.clear();
  ws.onopen = () => ws.send(JSON.stringify({ type: "start", room, targets, rate: 16000, encoding: "pcm16le", channels: 1 }));
  ws.onmessage = (message) => onSpeakerFrame(JSON.parse(message.data));
  ws.onclose = (event) => { setStatus("speak-status", `Stopped (${event.code}${event.reason ? " " + event.reason : ""}).`); stopAudio(); };
  $("speak-stop").disabled = false;
}

// The microphone, or the sound of a tab (or screen) the user shares: getDisplayMedia must ask
// for video too; only the audio track is sent. Chrome and Edge share a tab's sound when
// "Share tab audio" is ticked; Firefox and Safari share no tab audio.
async function captureAudio(input) {
  const audio = { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  if (input !== "tab") return navigator.mediaDevices.getUserMedia({ audio });
  if (!navigator.mediaDevices.getDisplayMedia) throw new Error("this browser cannot share a tab");
  const shared = await navigator.mediaDevices.getDisplayMedia({
    video: true, audio: { ...audio, suppressLocalAudioPlayback: false },
    systemAudio: "include", selfBrowserSurface: "include", surfaceSwitching: "include",
  });
  if (!shared.getAudioTracks().length) {
    shared.getTracks().forEach((t) => t.stop());
    throw new Error("the shared tab has no sound: share a tab and tick \"Share tab audio\" (Chrome, Edge)");
  }
  return shared;
}

function onSpeakerFrame(frame) {
  if (frame.type === "ready") {
    const source = speaker.context.createMediaStreamSource(speaker.stream);
    speaker.node = new AudioWorkletNode(speaker.context, "pcm16-writer", { processorOptions: { targetRate: 16000 } });
    speaker.node.port.onmessage = (e) => { if (speaker.ws && speaker.ws.readyState === WebSocket.OPEN) speaker.ws.send(e.data); };
    source.connect(speaker.node);
    const what = speaker.stream.getVideoTracks().length ? "the shared tab's sound" : "the microphone";
    setStatus("speak-status", `Speaking in room ${frame.room} from ${what}.`);
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
