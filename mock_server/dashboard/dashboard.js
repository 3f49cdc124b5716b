// booking-mock dashboard: plain ES2020, no dependencies. Every URL is relative to /__admin/.
// Data from the server is only ever written with textContent (the journal holds
// attacker-controlled headers and bodies).

const TOKEN_KEY = "booking-mock.admin-token";
const MAX_JOURNAL_ROWS = 200;
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);

/** Builds an element: el("td", {className: "x", title: "y"}, "text", childNode, ...). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// ---------------------------------------------------------------- notices, token, API

let noticeKind = null; // "auth" and "network" notices clear themselves on the next success

function showNotice(message, kind = "error") {
  noticeKind = kind;
  $("notice-text").textContent = message;
  const notice = $("notice");
  notice.classList.toggle("notice-auth", kind === "auth");
  notice.hidden = false;
  $("token").classList.toggle("needs-token", kind === "auth");
}

function clearNotice() {
  noticeKind = null;
  $("notice").hidden = true;
  $("notice-text").textContent = "";
  $("token").classList.remove("needs-token");
}

function noteSuccess() {
  if (noticeKind === "auth" || noticeKind === "network") clearNotice();
}

const AUTH_MESSAGE = "Unauthorized (401): enter the admin token in the header and press Save.";

const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

function authHeaders(extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  return headers;
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function errorMessage(payload, status) {
  if (typeof payload?.error !== "string") return `HTTP ${status}`;
  const details = Array.isArray(payload.details) ? payload.details : [];
  const parts = details.map((d) => (d?.field ? `${d.field}: ${d.message}` : String(d?.message)));
  return parts.length ? `${payload.error} (${parts.join("; ")})` : payload.error;
}

/**
 * Calls the control API; answers the parsed JSON (null for an empty answer).
 * On failure it shows the notice (unless quiet) and throws an ApiError.
 */
async function api(path, { method = "GET", body, quiet = false } = {}) {
  const init = { method, headers: authHeaders(), cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (!quiet) showNotice(`${method} ${path}: the mock server is unreachable (${error.message}).`, "network");
    throw new ApiError(error.message, 0);
  }
  const payload = parseJson(await response.text());
  if (response.status === 401) {
    showNotice(AUTH_MESSAGE, "auth");
    throw new ApiError("unauthorized", 401);
  }
  if (!response.ok) {
    const message = errorMessage(payload, response.status);
    if (!quiet) showNotice(`${method} ${path}: ${message}`);
    throw new ApiError(message, response.status);
  }
  noteSuccess();
  return payload;
}

/** Runs an API-driven action, swallowing the ApiError already shown in the notice. */
function guarded(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        console.warn(error);
        showNotice(String(error.message || error));
      }
    }
  };
}

/** Collapses bursts of calls into one call after `ms`. */
function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/** Polls fn every ms, never two runs at once, and not while a token is awaited. */
function poll(fn, ms) {
  let running = false;
  const tick = async () => {
    if (running || noticeKind === "auth") return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
  };
  tick();
  setInterval(tick, ms);
}

// ---------------------------------------------------------------- formatting

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function utc(value) {
  const date = new Date(value);
  if (!value || Number.isNaN(date.getTime())) return value ? String(value) : "";
  return date.toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
}

function clockTime(value) {
  const match = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(String(value || ""));
  return match ? match[1] : String(value || "");
}

function pretty(body) {
  if (body === undefined) return "(no body)";
  if (body === "") return "(empty)";
  const value = typeof body === "string" ? parseJson(body) : body;
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function describe(object) {
  const parts = Object.entries(object || {}).map(([key, value]) => `${key}=${value}`);
  return parts.length ? parts.join(", ") : "any";
}

// ---------------------------------------------------------------- health

async function refreshHealth() {
  try {
    const health = await api("health", { quiet: true });
    const count = health.bookings;
    $("health").textContent = [
      health.status,
      health.storage,
      count === undefined ? null : `${count} booking${count === 1 ? "" : "s"}`,
    ].filter(Boolean).join(" · ");
    $("health").classList.toggle("bad", health.status !== "ok");
  } catch (error) {
    $("health").textContent = error.status === 401 ? "token needed" : "unreachable";
    $("health").classList.add("bad");
  }
}

// ---------------------------------------------------------------- clock

let clockDayKnown = false;

function showClock(clock) {
  $("clock-now").textContent = clock.now;
  const state = clock.real ? "real" : clock.frozen ? "frozen" : "running";
  const badge = $("clock-state");
  badge.textContent = state;
  badge.className = `pill clock-${state}`;
  if (!clockDayKnown && typeof clock.now === "string" && /^\d{4}-\d\d-\d\d/.test(clock.now)) {
    clockDayKnown = true;
    if (!$("slots-day").value) $("slots-day").value = clock.now.slice(0, 10);
  }
}

async function refreshClock() {
  try {
    showClock(await api("clock", { quiet: true }));
  } catch {
    /* the notice shows auth problems; the poll retries */
  }
}

const putClock = (body) => guarded(async () => showClock(await api("clock", { method: "PUT", body })));

function setupClock() {
  $("clock-set").addEventListener("click", () => {
    const now = $("clock-set-input").value.trim();
    if (!now) return showNotice("Enter a time such as 2026-03-13T10:30:00Z.");
    putClock({ now })();
  });
  $("clock-set-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter") $("clock-set").click();
  });
  $("clock-advance").addEventListener("click", () => {
    const seconds = Number($("clock-advance-seconds").value);
    if (!$("clock-advance-seconds").value.trim() || !Number.isFinite(seconds)) {
      return showNotice("Enter a number of seconds to advance.");
    }
    putClock({ advanceSeconds: seconds })();
  });
  $("clock-freeze").addEventListener("click", putClock({ frozen: true }));
  $("clock-unfreeze").addEventListener("click", putClock({ frozen: false }));
  $("clock-real").addEventListener("click", putClock({ real: true }));
  poll(refreshClock, POLL_MS);
}

// ---------------------------------------------------------------- bookings

function bookingRow(booking) {
  const invitee = booking.invitee || {};
  const cancelled = String(booking.status || "").toLowerCase().startsWith("cancel");
  const cancel = el("button", { type: "button", className: "cancel-booking small", disabled: cancelled }, "Cancel");
  cancel.addEventListener("click", guarded(async () => {
    cancel.disabled = true;
    try {
      await api(`bookings/${encodeURIComponent(booking.id)}`, { method: "DELETE" });
    } finally {
      refreshBookings();
      refreshHealth();
    }
  }));
  return el("tr", { className: "booking", dataset: { id: booking.id } },
    el("td", { className: "mono", title: booking.startTime }, utc(booking.startTime)),
    el("td", { title: booking.eventTypeId || "" }, `${booking.host ?? ""} / ${booking.eventSlug ?? ""}`),
    el("td", {},
      el("div", {}, invitee.name ?? ""),
      el("div", { className: "muted" }, invitee.email ?? "")),
    el("td", {}, el("span", { className: `pill status-${String(booking.status || "").toLowerCase()}` }, booking.status ?? "")),
    el("td", { className: "actions" }, cancel));
}

async function refreshBookings() {
  try {
    const { bookings = [] } = await api("bookings", { quiet: true });
    const body = $("bookings").tBodies[0];
    body.replaceChildren(...(bookings.length
      ? bookings.map(bookingRow)
      : [el("tr", { className: "empty" }, el("td", { colSpan: 5 }, "no bookings"))]));
  } catch (error) {
    if (error.status && error.status !== 401) showNotice(`GET bookings: ${error.message}`);
  }
}

// ---------------------------------------------------------------- armed responses

function armedItem(entry) {
  const times = entry.times ?? "?";
  const remaining = entry.remaining ?? times;
  return el("li", { className: "armed", dataset: { id: entry.id } },
    el("span", { className: "pill" }, `${remaining} / ${times}`),
    el("code", { className: "muted" }, entry.id ?? ""),
    el("span", {}, el("b", {}, "match "), describe(entry.match)),
    el("span", {}, el("b", {}, "respond "), describe(entry.respond)));
}

async function refreshArmed() {
  try {
    const { armed = [] } = await api("arm", { quiet: true });
    $("armed").replaceChildren(...(armed.length
      ? armed.map(armedItem)
      : [el("li", { className: "empty muted" }, "nothing armed")]));
  } catch (error) {
    if (error.status && error.status !== 401) showNotice(`GET arm: ${error.message}`);
  }
}

/** The POST arm body: only the fields filled in. */
function armBody() {
  const fields = (map) => {
    const out = {};
    for (const [key, id] of Object.entries(map)) {
      const value = $(id).type === "checkbox" ? $(id).checked || "" : $(id).value.trim();
      const numeric = (key === "times" || key === "code") && /^\d+$/.test(value);
      if (value !== "") out[key] = numeric ? Number(value) : value;
    }
    return out;
  };
  const body = fields({ times: "arm-times" });
  const match = fields({ userSlug: "arm-user-slug", eventSlug: "arm-event-slug", client: "arm-client" });
  const respond = fields({
    code: "arm-code", example: "arm-example", dynamic: "arm-dynamic",
    latency: "arm-latency", fault: "arm-fault", duration: "arm-duration",
  });
  if (Object.keys(match).length) body.match = match;
  body.respond = respond;
  return body;
}

function setupArming() {
  $("arm-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    try {
      await api("arm", { method: "POST", body: armBody() });
    } finally {
      refreshArmed();
    }
  }));
  $("arm-clear").addEventListener("click", guarded(async () => {
    try {
      await api("arm", { method: "DELETE" });
    } finally {
      refreshArmed();
    }
  }));
}

// ---------------------------------------------------------------- free slots

async function loadHosts() {
  try {
    const { hosts = [] } = await api("hosts", { quiet: true });
    const select = $("slots-event");
    const previous = select.value;
    const options = [];
    for (const host of hosts) {
      for (const type of host.eventTypes || []) {
        const value = `${host.slug}/${type.slug}`;
        const title = `${host.name || host.slug}: ${type.title || type.slug}, ${type.durationMinutes} min (${host.timezone})`;
        options.push(el("option", { value, title }, value));
      }
    }
    select.replaceChildren(...options);
    if (options.some((option) => option.value === previous)) select.value = previous;
  } catch {
    /* retried when the token is saved */
  }
}

const showSlots = guarded(async () => {
  const choice = $("slots-event").value;
  const day = $("slots-day").value;
  if (!choice) return showNotice("Choose a host and event type.");
  if (!day) return showNotice("Choose a day.");
  const [user, event] = choice.split("/");
  const query = new URLSearchParams({ from: day, to: day });
  const path = `slots/${encodeURIComponent(user)}/${encodeURIComponent(event)}?${query}`;
  const list = $("slots");
  list.replaceChildren(el("li", { className: "empty muted" }, "loading…"));
  try {
    const answer = await api(path);
    const slots = answer.slots || [];
    list.replaceChildren(...(slots.length
      ? slots.map((slot) => el("li", { className: "slot", title: `${slot.startTime} – ${slot.endTime}` },
        el("span", { className: "mono" }, slot.localStart ?? ""),
        el("span", { className: "mono muted" }, utc(slot.startTime))))
      : [el("li", { className: "empty muted" }, "no free slots")]));
  } catch (error) {
    list.replaceChildren();
    throw error;
  }
});

// ---------------------------------------------------------------- rate limits

async function refreshRateLimits() {
  try {
    const answer = await api("rate-limits", { quiet: true });
    const limit = answer.limit;
    $("rate-limits-info").textContent = `${limit} per ${answer.windowSeconds} s`;
    const clients = answer.clients || [];
    const rows = clients.map((client) => el("tr", { className: "rate-limit-client", dataset: { client: client.client } },
      el("td", { className: "mono", title: `last seen ${client.lastSeen}` }, client.client),
      el("td", { className: "left" },
        el("span", {}, `${client.remaining} / ${limit}`),
        el("meter", { min: 0, max: limit, low: limit * 0.25, high: limit * 0.5, optimum: limit, value: client.remaining })),
      el("td", {}, client.remaining >= limit ? "full" : `one frees in ${client.resetSeconds} s`)));
    $("rate-limits").tBodies[0].replaceChildren(...(rows.length
      ? rows
      : [el("tr", { className: "empty" }, el("td", { colSpan: 3, className: "muted" }, "no recent clients"))]));
  } catch {
    /* polled */
  }
}

// ---------------------------------------------------------------- journal

let lastId = 0;
let paused = false;
let pending = [];
const seen = new Set();

function statusClass(entry) {
  if (entry.fault && !entry.status) return "status-fault";
  const hundred = Math.floor(Number(entry.status) / 100);
  return hundred >= 1 && hundred <= 5 ? `status-${hundred}xx` : "status-other";
}

function headersTable(headers) {
  const rows = Object.entries(headers || {}).map(([name, value]) =>
    el("tr", {}, el("th", {}, name), el("td", {}, Array.isArray(value) ? value.join(", ") : String(value))));
  return rows.length ? el("table", { className: "kv" }, el("tbody", {}, ...rows)) : el("p", { className: "muted" }, "(no headers)");
}

function exchangePart(title, part) {
  part = part || {};
  return el("div", { className: "exchange-part" },
    el("h3", {}, title, part.truncated ? el("span", { className: "badge" }, "truncated") : null),
    headersTable(part.headers),
    el("pre", { className: "body" }, pretty(part.body)));
}

function entryDetails(entry) {
  return el("div", { className: "details" },
    exchangePart("Request", entry.request),
    exchangePart(entry.fault && !entry.status ? "Response (none sent)" : "Response", entry.response));
}

function journalRow(entry) {
  const query = entry.query ? (String(entry.query).startsWith("?") ? entry.query : `?${entry.query}`) : "";
  const status = el("span", { className: `status ${statusClass(entry)}` },
    entry.status ? String(entry.status) : "—",
    entry.fault ? el("span", { className: "badge fault" }, entry.fault) : null,
    entry.armed ? el("span", { className: "badge armed-by", title: "answered by an armed answer" }, entry.armed) : null);
  const summary = el("div", { className: "summary", tabIndex: 0, role: "button", "aria-expanded": "false" },
    el("span", { className: "mono", title: entry.time }, clockTime(entry.time)),
    el("span", { className: "mono" }, entry.client ?? ""),
    el("span", { className: `method method-${String(entry.method || "").toLowerCase()}` }, entry.method ?? ""),
    el("span", { className: "mono path", title: `${entry.path}${query}` }, `${entry.path ?? ""}${query}`),
    status,
    el("span", { className: "mono num" }, entry.durationMs === undefined ? "" : `${Number(entry.durationMs).toFixed(1)} ms`));
  const row = el("div", { className: "journal-entry", dataset: { id: entry.id } }, summary);
  const toggle = () => {
    let details = row.querySelector(".details");
    if (!details) row.append((details = entryDetails(entry)));
    else details.hidden = !details.hidden;
    const open = !details.hidden;
    row.classList.toggle("open", open);
    summary.setAttribute("aria-expanded", String(open));
  };
  row.addEventListener("click", (event) => {
    if (!event.target.closest(".details")) toggle();
  });
  summary.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      toggle();
    }
  });
  return row;
}

function trimJournal() {
  const journal = $("journal");
  while (journal.children.length > MAX_JOURNAL_ROWS) journal.lastElementChild.remove();
}

function updatePauseButton() {
  const button = $("journal-pause");
  button.textContent = paused ? `Resume${pending.length ? ` (${pending.length} new)` : ""}` : "Pause";
  button.setAttribute("aria-pressed", String(paused));
}

const refreshAfterEntry = debounce(() => {
  refreshArmed();
  refreshRateLimits();
}, 250);
const refreshBookingsSoon = debounce(() => {
  refreshBookings();
  refreshHealth();
}, 250);

/** Records an entry's id; false when it was shown already (the stream may replay it). */
function remember(entry) {
  const id = Number(entry?.id);
  if (!Number.isFinite(id) || seen.has(id)) return false;
  seen.add(id);
  if (seen.size > 5000) seen.delete(seen.values().next().value);
  lastId = Math.max(lastId, id);
  return true;
}

let instance = null;

/** A new mock process numbers its journal from 1 again: forget the old one's ids and rows. */
function meetInstance(hello) {
  const known = instance;
  instance = hello.instance;
  if (known === null || known === instance) return;
  seen.clear();
  lastId = 0;
  pending = [];
  $("journal").replaceChildren();
  loadJournal();
}

function receive(entry) {
  if (!remember(entry)) return;
  if (paused) {
    pending.push(entry);
    if (pending.length > MAX_JOURNAL_ROWS) pending.shift();
    updatePauseButton();
  } else {
    $("journal").prepend(journalRow(entry));
    trimJournal();
  }
  if (entry.method === "POST" && Number(entry.status) === 201) refreshBookingsSoon();
  refreshAfterEntry();
}

async function loadJournal() {
  try {
    const { requests = [] } = await api("requests?limit=100", { quiet: true });
    // newest first: take them oldest first, each prepended on top
    for (const entry of [...requests].reverse()) if (remember(entry)) $("journal").prepend(journalRow(entry));
    trimJournal();
  } catch {
    /* the stream catches up from lastId */
  }
}

function setLive(live) {
  const indicator = $("journal-live");
  indicator.textContent = live ? "live" : "reconnecting";
  indicator.classList.toggle("on", live);
}

/** Minimal server-sent-events parser (WHATWG rules): feed it text, it calls onEvent. */
function sseParser(onEvent) {
  let buffer = "";
  let data = [];
  let type = "";
  const line = (text) => {
    if (text === "") {
      if (data.length) onEvent({ type: type || "message", data: data.join("\n") });
      data = [];
      type = "";
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") type = value; // "id" and "retry" are not needed: entries carry their id
  };
  return (chunk) => {
    buffer += chunk;
    // a trailing "\r" may be the first half of "\r\n": hold it back for the next chunk
    const held = buffer.endsWith("\r") ? "\r" : "";
    const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
    buffer = lines.pop() + held;
    for (const text of lines) line(text);
  };
}

let streamAbort = null;
let streamWake = null;
let streamConnected = false;

function sleep(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    streamWake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

async function readStream(signal) {
  const response = await fetch(`requests/stream?after=${lastId}`, {
    headers: authHeaders({ Accept: "text/event-stream" }),
    cache: "no-store",
    signal,
  });
  if (response.status === 401) {
    showNotice(AUTH_MESSAGE, "auth");
    throw new ApiError("unauthorized", 401);
  }
  if (!response.ok || !response.body) throw new ApiError(`HTTP ${response.status}`, response.status);
  noteSuccess();
  setLive(true);
  streamConnected = true;
  const feed = sseParser((event) => {
    if (event.type === "hello") {
      meetInstance(JSON.parse(event.data));
      return;
    }
    if (event.type !== "request" && event.type !== "message") return;
    try {
      receive(JSON.parse(event.data));
    } catch (error) {
      console.warn("journal stream: bad event", error);
    }
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    feed(decoder.decode(value, { stream: true }));
  }
  feed(decoder.decode());
}

async function streamLoop() {
  let delay = 1000;
  for (;;) {
    streamAbort = new AbortController();
    const { signal } = streamAbort;
    let failed = false;
    let wait = 1000;
    streamConnected = false;
    try {
      await readStream(signal);
    } catch (error) {
      failed = !signal.aborted;
      if (error.status === 401) wait = 3600000; // until a token is saved (restartStream)
      else if (failed) wait = delay;
    }
    setLive(false);
    if (signal.aborted) continue; // restarted on purpose (new token): reconnect at once
    await sleep(wait);
    delay = failed && !streamConnected ? Math.min(delay * 2, 10000) : 1000;
  }
}

function restartStream() {
  if (streamAbort) streamAbort.abort();
  if (streamWake) streamWake();
}

function setupJournal() {
  $("journal-pause").addEventListener("click", () => {
    paused = !paused;
    if (!paused) {
      for (const entry of pending) $("journal").prepend(journalRow(entry));
      pending = [];
      trimJournal();
    }
    updatePauseButton();
  });
  $("journal-clear").addEventListener("click", () => {
    $("journal").replaceChildren();
    pending = [];
    updatePauseButton();
  });
}

// ---------------------------------------------------------------- start-up

function refreshAll() {
  refreshHealth();
  refreshClock();
  refreshBookings();
  refreshArmed();
  refreshRateLimits();
  loadHosts();
}

function setupToken() {
  $("token").value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    clearNotice();
    refreshAll();
    loadJournal().then(restartStream);
  });
  $("notice-close").addEventListener("click", clearNotice);
}

function start() {
  setupToken();
  setupClock();
  setupArming();
  setupJournal();
  $("bookings-refresh").addEventListener("click", () => {
    refreshBookings();
    refreshHealth();
  });
  $("slots-show").addEventListener("click", showSlots);
  refreshBookings();
  refreshArmed();
  loadHosts();
  poll(refreshRateLimits, POLL_MS);
  poll(refreshHealth, 10000);
  loadJournal().then(streamLoop);
}

start();
