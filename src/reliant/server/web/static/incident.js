// reliant web UI: an incident's live timeline. No inline scripts (the Content-Security-Policy
// forbids them): the page's <ol data-timeline-stream="URL"> holds the entries the server
// rendered, oldest first; this follows the timeline's Server-Sent Events (event name
// "entry"; the session cookie authenticates the same-origin GET, as for /events) from the
// newest entry shown and puts each new entry in time order — new ones at the bottom.
// EventSource resumes with Last-Event-ID after a dropped connection by itself.
//
//   data-after="ID"        the newest event id rendered with the page
//   data-incident="N"      the incident's number (pin forms post to /incidents/N/...)
//   data-can-pin="true"    the user may pin entries (operators)
//
// Each entry arriving fires "reliant:timeline" on <body>, and "reliant:runbook" for
// runbook.* entries (the page's runbook runs reload on it).
(function () {
  "use strict";

  const list = document.querySelector("ol[data-timeline-stream]");
  if (!list) return;
  const body = document.body;
  const incident = list.dataset.incident;
  const canPin = list.dataset.canPin === "true";
  const state = document.querySelector(`[data-stream-state-for="${list.id}"]`);
  const emptyNote = list.parentElement.querySelector(".empty-note");
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  let lastId = Number(list.dataset.after || 0);
  let source = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children) node.append(child);
    return node;
  }

  function absolute(t) {
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function hidden(name, value) {
    return el("input", { type: "hidden", name: name, value: value });
  }

  // The same markup as templates/incidents/_entry.html.
  function entryNode(e) {
    const severity = e.severity || "info";
    const classes = `tl-entry tl-${e.type} tl-sev-${severity} tl-new${e.pinned ? " tl-pinned" : ""}`;
    const item = el("li", {
      class: classes,
      "data-key": e.key,
      "data-event-id": String(e.event_id),
      "data-time": String(e.time),
      "data-kind": e.kind,
    });
    const iso = new Date(e.time * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    item.append(el("time", { class: "tl-time", datetime: iso, title: absolute(e.time) }, absolute(e.time)));
    const meta = `${e.service ? `${e.service} · ` : ""}${e.type === "note" ? "note by " : "by "}${e.by}`;
    item.append(el("span", { class: "tl-body" },
      el("code", { class: "tl-kind" }, e.kind), " ",
      el("span", { class: "tl-text" }, e.text), " ",
      el("span", { class: "tl-meta muted" }, meta)));
    if (e.pinned) item.append(el("span", { class: "tl-pin-mark", title: "pinned" }, "pinned"));
    if (canPin) {
      const action = `/incidents/${encodeURIComponent(incident)}/timeline/${e.key}/pin`;
      const form = el("form", {
        class: "inline tl-pin-form", method: "post", action: action,
        "hx-post": action, "hx-target": "closest li", "hx-swap": "outerHTML",
      });
      form.append(hidden("csrf_token", csrf), hidden("pinned", e.pinned ? "false" : "true"));
      form.append(el("button", { type: "submit", class: "btn btn-sm btn-quiet" }, e.pinned ? "Unpin" : "Pin"));
      item.append(form);
    }
    return item;
  }

  function place(e) {
    if (list.querySelector(`li[data-key="${CSS.escape(e.key)}"]`)) return;
    const node = entryNode(e);
    // Time order (a manual entry may be dated in the past); ties by event id.
    let before = null;
    for (const item of list.children) {
      const t = Number(item.dataset.time);
      if (t > e.time || (t === e.time && Number(item.dataset.eventId) > e.event_id)) {
        before = item;
        break;
      }
    }
    list.insertBefore(node, before);
    if (window.htmx) htmx.process(node);
    if (emptyNote) emptyNote.hidden = true;
    body.dispatchEvent(new CustomEvent("reliant:timeline", { detail: e }));
    if (e.kind.startsWith("runbook.")) body.dispatchEvent(new CustomEvent("reliant:runbook", { detail: e }));
  }

  function show(mode, text) {
    list.dataset.streamState = mode;
    if (!state) return;
    state.className = `stream-state stream-${mode}`;
    state.querySelector(".stream-state-text").textContent = text;
  }

  function connect() {
    const url = new URL(list.dataset.timelineStream, location.href);
    if (lastId > 0) url.searchParams.set("after", String(lastId));
    source = new EventSource(url.pathname + url.search);
    show("connecting", "connecting…");
    source.addEventListener("open", () => show("live", "live"));
    source.addEventListener("entry", (message) => {
      const e = JSON.parse(message.data);
      if (e.event_id > lastId) lastId = e.event_id;
      place(e);
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        show("down", "disconnected: reload the page");
      } else {
        show("connecting", "reconnecting…");
      }
    });
  }

  window.addEventListener("pagehide", () => source && source.close());
  connect();
})();
