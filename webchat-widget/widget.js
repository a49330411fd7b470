/*
 * The UTalk web chat widget: one <script> tag on the business's site.
 *
 *   <script src="https://<api>/webchat/widget.js" data-channel="wk_..." data-relay="https://<relay>" async></script>
 *
 * It opens a visitor session (POST /api/v1/webchat/{key}/sessions), keeps the refresh token in
 * localStorage so a reload resumes the same conversation, shows the history, sends messages (each
 * with its own UUID: a retried send is stored once) and hears replies, the agent joining and their
 * typing live over the relay (socket.io-client, loaded from the same place as this file). After a
 * relay restart socket.io reconnects and the history is read again, so nothing is missed.
 * Everything the server sends is shown as text, never as HTML. Optional: data-identifier and
 * data-identifier-hash (the host site's HMAC of a logged-in customer: docs/webchat.md). The attach
 * button uploads a file to the visitor's conversation (POST .../media) and sends it as a message.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.channel) { return; }
  var KEY = script.dataset.channel;
  var BASE = new URL(script.src).origin;
  var API = BASE + "/api/v1/webchat/" + encodeURIComponent(KEY);
  var RELAY = script.dataset.relay || BASE;
  var STORE = "utalk-webchat:" + KEY;
  var TYPING_EVERY_MS = 3000, TYPING_IDLE_MS = 2000;

  var state = { session: null, socket: null, shown: {}, agentName: null, open: false,
                lastTyping: 0, typingTimer: null, refreshTimer: null };

  // -- the page -------------------------------------------------------------------------------
  var css = [
    ".utalk-wc{position:fixed;right:20px;bottom:20px;z-index:2147483000;font:15px/1.4 system-ui,sans-serif}",
    ".utalk-wc button,.utalk-wc textarea{font:inherit}",
    ".utalk-wc :focus-visible{outline:3px solid #1a73e8;outline-offset:2px}",
    ".utalk-wc-launch{border:0;border-radius:24px;padding:12px 20px;background:#1a1a2e;color:#fff;cursor:pointer}",
    ".utalk-wc-panel{display:none;flex-direction:column;width:340px;height:460px;background:#fff;color:#111;",
    "border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;margin-bottom:10px}",
    ".utalk-wc-panel[data-open=true]{display:flex}",
    ".utalk-wc-head{display:flex;justify-content:space-between;align-items:center;padding:10px 14px;",
    "background:#1a1a2e;color:#fff}",
    ".utalk-wc-head h2{font-size:16px;margin:0}.utalk-wc-agent{font-size:12px;opacity:.85;margin:2px 0 0}",
    ".utalk-wc-close{background:transparent;border:0;color:#fff;font-size:20px;cursor:pointer}",
    ".utalk-wc-end{margin-left:auto;margin-right:6px;background:transparent;border:1px solid #fff;border-radius:6px;color:#fff;font-size:12px;padding:2px 8px;cursor:pointer}",
    ".utalk-wc-end:disabled{opacity:.5;cursor:default}",
    ".utalk-wc-log{flex:1;overflow-y:auto;padding:10px;margin:0;list-style:none;background:#f6f6f8}",
    ".utalk-wc-msg{max-width:80%;margin:6px 0;padding:8px 10px;border-radius:10px;white-space:pre-wrap;",
    "word-wrap:break-word}",
    ".utalk-wc-msg[data-side=visitor]{margin-left:auto;background:#1a73e8;color:#fff}",
    ".utalk-wc-msg[data-side=business]{background:#fff;border:1px solid #ddd}",
    ".utalk-wc-who{display:block;font-size:11px;opacity:.7}",
    ".utalk-wc-seen{display:block;font-size:11px;opacity:.7;text-align:right}",
    ".utalk-wc-file{color:inherit}.utalk-wc-thumb{display:block;max-width:100%;max-height:160px;border-radius:6px;margin-bottom:4px}",
    ".utalk-wc-typing{min-height:18px;font-size:12px;color:#555;padding:0 12px}",
    ".utalk-wc-form{display:flex;gap:6px;padding:8px;border-top:1px solid #ddd}",
    ".utalk-wc-form textarea{flex:1;resize:none;height:40px;padding:6px;border:1px solid #999;border-radius:6px}",
    ".utalk-wc-send{border:0;border-radius:6px;padding:0 14px;background:#1a73e8;color:#fff;cursor:pointer}",
    ".utalk-wc-attach{border:1px solid #999;border-radius:6px;padding:0 10px;background:#fff;color:#111;cursor:pointer}",
    ".utalk-wc-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) { node.textContent = text; }
    return node;
  }

  var root = el("div", { "class": "utalk-wc" });
  var panel = el("section", { "class": "utalk-wc-panel", role: "dialog", "aria-labelledby": "utalk-wc-title",
                              id: "utalk-wc-panel", "data-open": "false" });
  var head = el("header", { "class": "utalk-wc-head" });
  var titles = el("div");
  var title = el("h2", { id: "utalk-wc-title" }, "Chat");
  var agentLine = el("p", { "class": "utalk-wc-agent", "aria-live": "polite" });
  var close = el("button", { type: "button", "class": "utalk-wc-close", "aria-label": "Close chat" }, "×");
  var end = el("button", { type: "button", "class": "utalk-wc-end" }, "End chat");
  var log = el("ol", { "class": "utalk-wc-log", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  var typing = el("p", { "class": "utalk-wc-typing", "aria-live": "polite" });
  var form = el("form", { "class": "utalk-wc-form" });
  var label = el("label", { "for": "utalk-wc-input", "class": "utalk-wc-sr" }, "Your message");
  var input = el("textarea", { id: "utalk-wc-input", name: "message", rows: "1", maxlength: "4096" });
  var send = el("button", { type: "submit", "class": "utalk-wc-send" }, "Send");
  // A real button (focusable, Enter/Space) opens the file picker of a visually hidden input.
  var attach = el("button", { type: "button", "class": "utalk-wc-attach", "aria-label": "Attach a file",
                              "aria-controls": "utalk-wc-file" }, "📎");
  var file = el("input", { type: "file", id: "utalk-wc-file", "class": "utalk-wc-sr", tabindex: "-1",
                           "aria-label": "File to send", accept: "image/*,audio/*,video/*,application/pdf,.docx,.xlsx,.pptx,.vcf" });
  var launch = el("button", { type: "button", "class": "utalk-wc-launch", "aria-expanded": "false",
                              "aria-controls": "utalk-wc-panel" }, "Chat with us");
  titles.append(title, agentLine);
  head.append(titles, end, close);
  form.append(label, input, attach, file, send);
  panel.append(head, log, typing, form);
  root.append(panel, launch);

  function setOpen(open) {
    state.open = open;
    panel.setAttribute("data-open", String(open));
    launch.setAttribute("aria-expanded", String(open));
    if (open) { log.scrollTop = log.scrollHeight; input.focus(); markRead(); } else { launch.focus(); }
  }
  launch.addEventListener("click", function () { setOpen(!state.open); });
  close.addEventListener("click", function () { setOpen(false); });
  end.addEventListener("click", signOut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { setOpen(false); } });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  input.addEventListener("input", signalTyping);
  attach.addEventListener("click", function () { file.click(); });
  file.addEventListener("change", function () {
    var chosen = file.files && file.files[0];
    file.value = "";
    if (chosen && state.session) { sendFile(chosen); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || !state.session) { return; }
    input.value = "";
    stopTyping();
    sendMessage(text, uuid4());
  });

  // -- messages on screen ---------------------------------------------------------------------
  function render(m) {
    var key = m.messageId || m.id;               // the visitor's own: its client id, known before the server's
    var item = state.shown[key];
    if (!item) {
      var side = m.direction === "inbound" ? "visitor" : "business";
      item = el("li", { "class": "utalk-wc-msg", "data-side": side, "data-sender": m.senderType });
      var who = side === "visitor" ? "You" : m.senderType === "agent" ? (state.agentName || "Agent")
        : m.senderType === "greeting" ? title.textContent : "Assistant";
      var shown = m.text || "";
      if (m.mediaId || m.fileName) { shown = "📎 " + (m.fileName || m.type || "file") + (m.text ? "\n" + m.text : ""); }
      item.append(el("span", { "class": "utalk-wc-who" }, who), el("span", { "class": "utalk-wc-text" }, shown));
      state.shown[key] = item;
      insertInOrder(item, m.createdAt);
    }
    item.setAttribute("data-status", m.status || "");
    if (m.mediaId && !item.getAttribute("data-media")) { showFile(item, m); }   // also once an own file is stored
    if ((m.senderType === "agent" || m.senderType === "bot") && state.open) { markRead(); }
  }

  // A message's file: a link that downloads it (a signed URL from GET media/{id}, asked again when
  // it is about to expire), with a thumbnail for an image.
  function showFile(item, m) {
    item.setAttribute("data-media", m.mediaId);
    function fetchUrl() { return call("GET", "/media/" + encodeURIComponent(m.mediaId)); }
    fetchUrl().then(function (media) {
      if (!media.url) { return; }
      var name = media.fileName || media.type || "file";
      var link = el("a", { "class": "utalk-wc-file", href: media.url, download: name, rel: "noopener" });
      if (media.type === "image") { link.append(el("img", { "class": "utalk-wc-thumb", src: media.url, alt: name })); }
      link.append(document.createTextNode("📎 " + name));
      var expires = Date.parse(media.urlExpiresAt || "") || 0;
      function fresh() {
        if (expires && Date.now() > expires - 30000) {
          fetchUrl().then(function (again) { link.href = again.url; expires = Date.parse(again.urlExpiresAt || "") || 0; });
        }
      }
      link.addEventListener("mouseenter", fresh);
      link.addEventListener("focus", fresh);
      var text = item.querySelector(".utalk-wc-text");
      text.textContent = "";
      text.append(link);
      if (m.text) { text.append(document.createTextNode("\n" + m.text)); }
    }).catch(function () {});                                   // the name stays shown without a link
  }

  function insertInOrder(item, createdAt) {
    item.setAttribute("data-at", createdAt || new Date().toISOString());
    var at = item.getAttribute("data-at"), next = null;
    for (var i = log.children.length - 1; i >= 0; i--) {
      if (log.children[i].getAttribute("data-at") <= at) { break; }
      next = log.children[i];
    }
    log.insertBefore(item, next);
    log.scrollTop = log.scrollHeight;
  }

  function showAgent(name) {
    state.agentName = name || state.agentName;
    agentLine.textContent = state.agentName ? state.agentName + " is here to help" : "";
  }

  // -- the visitor API ------------------------------------------------------------------------
  function call(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (state.session) { headers.Authorization = "Bearer " + state.session.token; }
    return fetch(API + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 204) { return {}; }
        return r.json().then(function (data) {
          if (!r.ok) { var err = new Error((data.error || {}).code || r.status); err.status = r.status; throw err; }
          return data;
        });
      });
  }

  function openSession() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { saved = null; }
    var identity = null;
    if (script.dataset.identifier && script.dataset.identifierHash) {
      identity = { identifier: script.dataset.identifier, identifierHash: script.dataset.identifierHash };
    }
    // A saved anonymous visitor who is now logged in on the site resumes first, so that its token
    // can carry its conversation into the identified one (docs/webchat.md); a saved identified
    // session is resumed only for the same identity (another customer may have logged in).
    var resume = saved && saved.refreshToken && (!identity || saved.identified === false ||
                                                 saved.identifierHash === identity.identifierHash);
    var body = resume ? { refreshToken: saved.refreshToken } : (identity || {});
    state.session = null;
    return call("POST", "/sessions", body).catch(function (err) {
      if (body.refreshToken && err.status === 401) {          // expired or revoked: start over
        localStorage.removeItem(STORE);
        return call("POST", "/sessions", identity || {});
      }
      throw err;
    }).then(function (session) {
      if (!identity || session.identified) { return session; }
      state.session = session;                                // its token goes with the identity
      return call("POST", "/sessions", identity);
    }).then(function (session) {
      state.session = session;
      localStorage.setItem(STORE, JSON.stringify({ refreshToken: session.refreshToken,
                                                   visitorId: session.visitorId, identified: session.identified,
                                                   identifierHash: identity && identity.identifierHash }));
      var widget = session.widget || {};
      title.textContent = widget.title || "Chat";
      input.setAttribute("placeholder", widget.placeholder || "");
      clearTimeout(state.refreshTimer);                       // a new token a minute before this one ends
      state.refreshTimer = setTimeout(renew, Math.max(5, session.expiresAt - Date.now() / 1000 - 60) * 1000);
      return session;
    });
  }

  function renew() {
    openSession().then(function (session) {
      if (state.socket) { state.socket.emit("auth:refresh", { token: session.token }); }
    });
  }

  function loadHistory() {
    return call("GET", "/messages?limit=50").then(function (page) {
      if (page.agent) { showAgent(page.agent.name); }
      var greeting = (state.session.widget || {}).greeting;
      if (greeting && !state.shown.greeting) {                 // the business's words, always first
        render({ id: "greeting", text: greeting, direction: "outbound", senderType: "greeting",
                 createdAt: "0" });
      }
      page.items.slice().reverse().forEach(render);
      if (page.read) { showRead(); }
    });
  }

  // Read receipts: everything the visitor sent so far was read by the business ("Seen" under the
  // last one, for screen readers too).
  function showRead() {
    var mine = log.querySelectorAll('.utalk-wc-msg[data-side="visitor"]');
    Array.prototype.forEach.call(mine, function (item) { item.setAttribute("data-read", "true"); });
    var old = log.querySelector(".utalk-wc-seen");
    if (old) { old.remove(); }
    if (mine.length) { mine[mine.length - 1].append(el("span", { "class": "utalk-wc-seen" }, "Seen")); }
  }

  function sendMessage(text, messageId, attempt, media) {
    render({ messageId: messageId, text: text, direction: "inbound", senderType: "customer", status: "sending",
             fileName: media && media.fileName });
    var body = { messageId: messageId };
    if (text) { body.text = text; }
    if (media) { body.mediaId = media.id; }
    call("POST", "/messages", body).then(function (stored) {
      state.shown[messageId].setAttribute("data-status", stored.status);
    }).catch(function (err) {
      attempt = (attempt || 0) + 1;
      state.shown[messageId].setAttribute("data-status", "retrying");
      if (err.status === 401) { return openSession().then(function () { sendMessage(text, messageId, attempt, media); }); }
      if (err.message === "visitor_blocked") { state.shown[messageId].setAttribute("data-status", "failed");
                                               return ended("This chat has ended."); }
      if ((!err.status || err.status >= 500 || err.status === 429) && attempt < 5) {   // same id: stored once
        setTimeout(function () { sendMessage(text, messageId, attempt, media); }, 1000 * attempt);
      } else {
        state.shown[messageId].setAttribute("data-status", "failed");
      }
    });
  }

  function sendFile(chosen) {
    var form = new FormData();                      // the browser sets the multipart boundary
    form.append("file", chosen, chosen.name);
    fetch(API + "/media", { method: "POST", headers: { Authorization: "Bearer " + state.session.token }, body: form })
      .then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) { throw new Error((data.error || {}).code || r.status); }
          return data.items[0];
        });
      })
      .then(function (media) { sendMessage(null, uuid4(), 0, media); })
      .catch(function (err) {                       // 413/415/429: say so, send nothing
        typing.textContent = "The file could not be sent (" + (err && err.message || err) + ")";
      });
  }

  var reading = false;
  function markRead() {
    if (reading || !state.session) { return; }
    reading = true;
    setTimeout(function () { call("POST", "/read").catch(function () {}).then(function () { reading = false; }); },
               500);
  }

  function signalTyping() {
    var now = Date.now();
    if (state.socket && now - state.lastTyping > TYPING_EVERY_MS) {
      state.lastTyping = now;
      state.socket.emit("typing:start", {});
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.socket && state.lastTyping) { state.socket.emit("typing:stop", {}); }
    state.lastTyping = 0;
  }

  // The visitor ends the chat: its refresh path is revoked (POST /signout), the saved session
  // forgotten and the socket closed; a reload starts a new chat.
  function signOut() {
    var session = state.session;
    if (!session) { return; }
    call("POST", "/signout", { refreshToken: session.refreshToken }).catch(function () {}).then(function () {
      if (state.socket) { state.socket.disconnect(); }
      ended("You ended the chat.");
    });
  }

  function ended(text) {
    localStorage.removeItem(STORE);
    state.session = null;
    clearTimeout(state.refreshTimer);
    input.disabled = send.disabled = attach.disabled = end.disabled = true;
    typing.textContent = text;
    root.setAttribute("data-ended", "true");
  }

  // -- live -----------------------------------------------------------------------------------
  function connect() {
    var socket = window.io(RELAY, {
      transports: ["websocket"],
      query: { channel: KEY },                      // lets this site's handshake reach the visitor check
      auth: function (cb) { cb({ token: state.session && state.session.token, visitor: true }); }
    });
    state.socket = socket;
    socket.on("connect", function () { root.setAttribute("data-connected", "true"); loadHistory(); });
    socket.on("disconnect", function () { root.setAttribute("data-connected", "false"); });
    socket.on("connect_error", function (err) {
      var code = err && err.data && err.data.code;
      if (code === "token_expired") { openSession().then(function () { socket.connect(); }); }
      if (code === "visitor_blocked") { ended("This chat has ended."); }   // blocked while this page was away
    });
    socket.on("error", function (err) {
      if (err && err.code === "token_expired") { openSession().then(function () { socket.connect(); }); }
    });
    socket.on("message", function (m) {
      if (m.senderType !== "customer") { typing.textContent = ""; }
      render(m);
    });
    socket.on("message:status", function (s) {
      var item = state.shown[s.id];
      if (item) { item.setAttribute("data-status", s.status); }
    });
    socket.on("typing", function (t) {
      typing.textContent = t.typing ? (state.agentName || "The agent") + " is typing…" : "";
    });
    socket.on("read", showRead);
    socket.on("agent:joined", function () { loadHistory(); });   // the history names the agent
    socket.on("agent:left", function () { state.agentName = null; showAgent(null); });
    socket.on("conversation:status", function (s) { root.setAttribute("data-status", s.status); });
    // The business blocked this visitor: the relay closes the socket after this (no reconnect
    // follows a server's disconnect), and the saved session is of no use any more.
    socket.on("session:ended", function () { ended("This chat has ended."); });
  }

  function loadSocketIo() {
    if (window.io) { return Promise.resolve(); }
    return new Promise(function (resolve, reject) {
      var tag = el("script", { src: BASE + "/webchat/socket.io.min.js" });
      tag.onload = resolve;
      tag.onerror = reject;
      document.head.append(tag);
    });
  }

  function uuid4() {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function start() {
    var style = el("style", {}, css);
    document.head.append(style);
    document.body.append(root);
    Promise.all([openSession(), loadSocketIo()]).then(function () {
      root.setAttribute("data-ready", "true");
      connect();
    }).catch(function (err) {
      root.setAttribute("data-error", String(err && err.message || err));
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
