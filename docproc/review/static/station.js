// The review station's page: keyboard first. The server owns the queue, the rules and
// the record; this page shows one field at a time and sends what the operator keys.
"use strict";

const csrf = document.querySelector('meta[name="csrf"]').content;
const marks = document.querySelector('meta[name="marks"]').content;  // what may be keyed between digits
const $ = (id) => document.getElementById(id);
let operator = localStorage.getItem("docproc-operator") || "";
let current = null;        // the field shown
let confirming = false;    // the entry breaks a rule and Enter was pressed once: the next Enter keys it anyway
let busy = false;          // a request that moves the queue is in flight: keys wait for it
let checkTimer = null;
let ahead = [];            // the next fields' crops, loading
let typedAhead = "";       // digits typed while the station answers: they are for the next field
let acceptedAt = null;     // when Enter (or u, b, Esc) was pressed, for the timings below
let answeredAt = null;     // when the station's answer to it came
// Milliseconds from each accepted field to the next one shown (its crop painted), and of
// that the wait for the station's answer: the benchmark reads these.
window.stationTimings = [];
window.stationAnswers = [];

function timed() {
  if (acceptedAt === null) return;
  window.stationTimings.push(performance.now() - acceptedAt);
  window.stationAnswers.push(answeredAt - acceptedAt);
  acceptedAt = null;
}

async function api(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: {"content-type": "application/json", "x-station-csrf": csrf},
    body: JSON.stringify({operator, ...body}),
  });
  const data = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function say(text) { $("message").textContent = text || ""; }

function showProblems(problems, final) {
  $("problems").textContent = (problems || []).join("; ") +
    (problems && problems.length && final === false ? " (Enter again keys it as written)" : "");
  $("entry").classList.toggle("invalid", !!(problems && problems.length));
}

function confidenceClass(p) { return p >= 0.9 ? "high" : p >= 0.5 ? "mid" : "low"; }

function showReading(item) {
  const reading = $("reading");
  reading.replaceChildren();
  let digit = 0;
  for (const ch of item.marks || "") {
    const span = document.createElement("span");
    span.textContent = ch;
    if (ch >= "0" && ch <= "9") {
      const p = item.digit_confidences[digit++];
      if (p !== undefined) span.className = confidenceClass(p);
      span.title = p === undefined ? "" : `${Math.round(p * 100)}% sure`;
    }
    reading.append(span);
  }
  if (!item.marks) reading.textContent = "(nothing)";
  $("alternatives").textContent = item.alternatives.length
    ? "or " + item.alternatives.filter((a) => a.text !== item.text).slice(0, 3)
        .map((a) => `${a.text} (${Math.round(a.probability * 100)}%)`).join(", ")
    : "";
}

function showProgress(progress) {
  const rate = progress.per_minute === null ? "" : ` · ${progress.per_minute} per minute`;
  $("counter").textContent = `${progress.done} done · ${progress.left} left${rate}`;
}

function show(data) {
  showProgress(data.progress);
  current = data.item;
  confirming = false;
  showProblems([]);
  if (!current) {
    typedAhead = "";
    $("station").hidden = true;
    $("done").hidden = false;
    timed();
    document.body.dataset.field = "";
    return;
  }
  $("done").hidden = true;
  $("station").hidden = false;
  const part = current.part > 1 ? ` part ${current.part}` : "";
  $("where").textContent = `${current.file} · page ${current.page}${part} · ${current.template || "no template"} · ${current.field}`;
  showReading(current);
  $("reason").textContent = current.blind ? "Quality check: key what is written; the machine's doubts are not shown."
    : current.reason ? `In review: ${current.reason}` : "";
  $("rules").textContent = current.rules.length ? `Template: ${current.rules.join(", ")}` : "";
  const entry = $("entry");
  entry.value = current.undone ? current.undone.marks : current.marks;
  if (current.undone && current.undone.kind !== "value") say(`Taken back: you had keyed it ${current.undone.kind}.`);
  const crop = $("crop");
  const shownId = String(current.id);
  crop.onload = () => {
    // The frame the crop is painted in: that is when the operator sees the field.
    requestAnimationFrame(() => {
      timed();
      document.body.dataset.field = shownId;  // tests wait for this: the field and its crop are on screen
    });
  };
  crop.src = current.crop;
  // The likely next crops, loaded now so that Enter shows the next field at once (the
  // browser keeps them: the server lets it cache crops).
  ahead = (current.ahead || []).map((url) => { const image = new Image(); image.src = url; return image; });
  entry.focus();
  entry.select();
  if (typedAhead) {
    entry.value = typedAhead;
    typedAhead = "";
    entry.dispatchEvent(new Event("input"));  // checked as if typed here
  }
}

async function move(path, body, note) {
  if (busy) return;
  busy = true;
  acceptedAt = performance.now();
  try {
    const data = await api(path, body);
    answeredAt = performance.now();
    if (data.accepted === false && data.problems) {
      acceptedAt = null;
      typedAhead = "";  // typed for a next field that did not come
      confirming = data.final === false;
      showProblems(data.problems, data.final);
      return;
    }
    say(data.refused ? `That field was ${data.refused}: here is the next one.` : note);
    show(data);
  } catch (error) {
    acceptedAt = null;
    typedAhead = "";
    say(`Not saved: ${error.message}. Your entry is still here; press Enter to try again.`);
  } finally {
    busy = false;
  }
}

function accept() {
  clearTimeout(checkTimer);  // the key request checks the entry itself
  move("/api/key", {id: current.id, kind: "value", entry: $("entry").value, confirm: confirming}, "");
}

async function checkEntry() {
  if (!current) return;
  const id = current.id;
  try {
    const data = await api("/api/check", {id, entry: $("entry").value});
    if (current && current.id === id) showProblems(data.problems, confirming ? false : undefined);
  } catch (error) { /* the check is a courtesy: Enter checks again on the server */ }
}

function keyable(event) {
  return event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey &&
    ((event.key >= "0" && event.key <= "9") || marks.includes(event.key));
}

function onKey(event) {
  if (busy) {
    // An operator who keys by touch types the next field before it is on screen: keep
    // those keys for it, and hold the others (Enter, Esc, u, b) until the answer is in.
    if (keyable(event)) typedAhead += event.key;
    else if (event.key === "Backspace") typedAhead = typedAhead.slice(0, -1);
    if (!["Shift", "Tab"].includes(event.key)) event.preventDefault();
    return;
  }
  if (!current && !(event.key === "z" && (event.ctrlKey || event.metaKey))) return;
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    move("/api/undo", {}, "Taken back: key it again.");
  } else if (event.key === "Enter") {
    event.preventDefault();
    accept();
  } else if (event.key === "Escape") {
    event.preventDefault();
    move("/api/skip", {id: current.id}, "Skipped: it comes back after the rest.");
  } else if ((event.key === "u" || event.key === "b") && !event.ctrlKey && !event.metaKey && !event.altKey) {
    event.preventDefault();
    const kind = event.key === "u" ? "unreadable" : "blank";
    move("/api/key", {id: current.id, kind}, `Keyed ${kind}.`);
  }
}

function start() {
  $("login").hidden = true;
  $("who").textContent = `keying as ${operator}`;
  document.addEventListener("keydown", onKey);
  $("entry").addEventListener("input", () => {
    confirming = false;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(checkEntry, 60);
  });
  api("/api/next", {}).then(show).catch((error) => say(`The station cannot be reached: ${error.message}`));
}

if (operator) {
  start();
} else {
  $("login").hidden = false;
  $("operator").focus();
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    operator = $("operator").value.trim();
    if (!operator) return;
    localStorage.setItem("docproc-operator", operator);
    start();
  });
}
