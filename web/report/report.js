// The analytics report page: signs in through the API, reads the overview and conversations
// reports of the last N days (days of the workspace's time zone) and draws them with Chart.js.
// A `#email=...&password=...` fragment fills the form and submits it (the demo and the headless
// test use it; a fragment never reaches a server).
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);

async function call(path, token, init = {}) {
  const headers = { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  const response = await fetch(API + path, { ...init, headers });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
  return body;
}

// "Today" is the workspace's (its settings' `timeZone`, the zone the API reads dates in), not the
// browser's: an admin in another zone, or late in the evening west of UTC, asks for the right days.
function todayIn(timeZone, at = new Date()) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit",
    day: "2-digit" }).formatToParts(at).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

function daysBefore(day, n) {   // calendar arithmetic on a YYYY-MM-DD, free of any zone
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d - n)).toISOString().slice(0, 10);
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 90 ? `${Math.round(value)} s` : value < 5400 ? `${Math.round(value / 60)} min` : `${(value / 3600).toFixed(1)} h`;
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
}

function tiles(overview, bot) {
  const t = overview.totals;
  const items = [
    ["Conversaciones abiertas", t.opened], ["Cerradas", t.closed], ["Reabiertas", t.reopened],
    ["Mensajes de clientes", t.messagesIn], ["Respuestas del bot", t.messagesBot], ["Respuestas de agentes", t.messagesAgent],
    ["Primera respuesta (mediana)", seconds(overview.firstResponse.median)],
    ["Primera respuesta humana (mediana)", seconds(overview.firstHumanResponse.median)],
    ["Resolución (mediana)", seconds(overview.resolution.median)], ["Espera en cola (mediana)", seconds(overview.queueWait.median)],
    ["Contención del bot", percent(overview.rates.containment)], ["Aceptación de ofertas", percent(overview.rates.offerAcceptance)],
    ["Ejecuciones del bot", bot.runs], ["Costo IA (USD)", bot.costUsd.toFixed(4)],
  ];
  $("tiles").replaceChildren(...items.map(([label, value]) => {
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.dataset.kpi = label;
    tile.append(label, Object.assign(document.createElement("b"), { textContent: String(value) }));
    return tile;
  }));
}

function chart(id, type, labels, datasets, extra = {}) {
  return new Chart($(id), { type, data: { labels, datasets }, options: { animation: false, responsive: true, ...extra } });
}

function draw(overview, conversations) {
  const periods = overview.series.map((p) => p.period);
  chart("volume", "line", periods, [
    { label: "abiertas", data: overview.series.map((p) => p.opened) },
    { label: "cerradas", data: overview.series.map((p) => p.closed) },
    { label: "escaladas", data: overview.series.map((p) => p.escalations) },
  ]);
  chart("messages", "bar", periods, [
    { label: "clientes", data: overview.series.map((p) => p.messagesIn) },
    { label: "bot", data: overview.series.map((p) => p.messagesBot) },
    { label: "agentes", data: overview.series.map((p) => p.messagesAgent) },
  ], { scales: { x: { stacked: true }, y: { stacked: true } } });
  const buckets = overview.firstResponse.buckets.filter((b) => b.count > 0);
  chart("frt", "bar", buckets.map((b) => (b.le === null ? "más" : `≤ ${b.le}`)),
        [{ label: "conversaciones", data: buckets.map((b) => b.count) }]);
  const reasons = Object.entries(conversations.escalationsByReason);
  chart("reasons", "doughnut", reasons.map(([r]) => r), [{ data: reasons.map(([, n]) => n) }]);
}

async function show(email, password, days) {
  const { token } = await call("/auth/login", null, { method: "POST", body: JSON.stringify({ email, password }) });
  const { timeZone } = await call("/workspace/settings", token);
  const to = todayIn(timeZone || "UTC");
  const query = `?from=${daysBefore(to, days - 1)}&to=${to}`;
  const [overview, conversations, bot] = await Promise.all(
    ["overview", "conversations", "bot"].map((name) => call(`/analytics/${name}${query}`, token)));
  $("range").textContent = `${overview.range.from} → ${overview.range.to} (${overview.range.timeZone})`;
  $("login").hidden = true;
  $("report").hidden = false;
  tiles(overview, bot);
  draw(overview, conversations);
  document.body.dataset.ready = "true";
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  show(form.get("email"), form.get("password"), Number(form.get("days") || 30))
    .catch((error) => { $("error").textContent = error.message; document.body.dataset.ready = "error"; });
});

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("email") && fragment.get("password")) {
  const form = $("login");
  form.email.value = fragment.get("email");
  form.password.value = fragment.get("password");
  if (fragment.get("days")) form.days.value = fragment.get("days");
  history.replaceState(null, "", location.pathname);   // the password leaves the address bar at once
  form.requestSubmit();
}
