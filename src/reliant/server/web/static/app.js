// reliant web UI: the few behaviours htmx does not cover. No inline scripts anywhere
// (the Content-Security-Policy forbids them); everything is wired by data- attributes.
//
//   data-json='{...}'           on an hx-put/hx-post element: send exactly this JSON body
//   data-done="text"            on an htmx element: a toast after it succeeds
//   data-event-stream="URL"     on a <table>: follow the SSE event stream into its <tbody>
//   data-stream-toggle="ID"     on a button: pause/resume the stream of table ID
//   data-autosubmit             on a <form>: submit when a <select> changes
//   data-confirm="question"     on a <form>: ask before submitting
//   data-copy="ID"              on a button: copy the value of input ID
(function () {
  "use strict";

  const body = document.body;
  // Seconds to add to the browser's clock to get the server's (relative times match the server).
  const clockOffset = Number(body.dataset.serverNow || Date.now() / 1000) - Date.now() / 1000;
  const serverNow = () => Date.now() / 1000 + clockOffset;

  // -- small helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children) node.append(child);
    return node;
  }

  function span(seconds) {
    if (seconds < 60) return `${Math.floor(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
    return `${Math.floor(seconds / 86400)} d`;
  }

  function ago(t) {
    const delta = serverNow() - t;
    if (delta < 0) return `in ${span(-delta)}`;
    return delta < 2 ? "just now" : `${span(delta)} ago`;
  }

  function absolute(t) {
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function compact(value, limit = 80) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length <= limit ? text : text.slice(0, limit - 1) + "…";
  }

  function timeElement(t) {
    const node = el("time", {
      datetime: new Date(t * 1000).toISOString().replace(/\.\d+Z$/, "Z"),
      "data-ts": String(t),
      title: absolute(t),
    });
    node.textContent = ago(t);
    return node;
  }

  function refreshTimes() {
    for (const node of document.querySelectorAll("time[data-ts]")) {
      node.textContent = ago(Number(node.dataset.ts));
    }
  }

  function toast(message, level) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = el("div", { class: `toast toast-${level}`, role: level === "critical" ? "alert" : "status" });
    item.append(el("span", { class: "pill-icon", "aria-hidden": "true" }), message);
    box.append(item);
    setTimeout(() => item.remove(), level === "critical" ? 10000 : 5000);
  }

  function problemText(xhr) {
    try {
      const problem = JSON.parse(xhr.responseText);
      return problem.detail || problem.title || `HTTP ${xhr.status}`;
    } catch (_) {
      return `the server answered ${xhr.status}`;
    }
  }

  // -- htmx: JSON bodies for API calls, feedback, refresh after changes ------------------

  if (window.htmx) {
    htmx.defineExtension("reliant", {
      onEvent(name, evt) {
        if (name === "htmx:configRequest" && evt.detail.elt.hasAttribute("data-json")) {
          evt.detail.headers["Content-Type"] = "application/json";
        }
        return true;
      },
      encodeParameters(xhr, parameters, elt) {
        const json = elt.getAttribute("data-json");
        if (json === null) return null;
        xhr.overrideMimeType("application/json");
        return json;
      },
    });

    body.addEventListener("htmx:afterRequest", (evt) => {
      const detail = evt.detail;
      const verb = (detail.requestConfig && detail.requestConfig.verb) || "get";
      if (verb === "get") return;
      if (detail.successful) {
        const done = detail.elt.getAttribute("data-done");
        if (done) toast(done, "ok");
        htmx.trigger(body, "reliant:changed");
      }
    });
    body.addEventListener("htmx:responseError", (evt) => {
      const xhr = evt.detail.xhr;
      if (xhr.status === 401 && !xhr.getResponseHeader("HX-Redirect")) {
        const here = location.pathname + location.search;
        location.assign(`/login?next=${encodeURIComponent(here)}`);
        return;
      }
      toast(`Not done: ${problemText(xhr)}`, "critical");
    });
    body.addEventListener("htmx:sendError", () => {
      toast("The control plane did not answer; retrying on the next refresh.", "warning");
    });
  }

  // -- live event streams ----------------------------------------------------------------

  function eventRow(e, showService) {
    const row = el("tr", { class: `ev ev-${e.severity} ev-new`, "data-id": String(e.id) });
    row.append(el("td", { class: "ev-time" }, timeElement(e.time)));
    row.append(el("td", { class: "ev-sev" }, el("span", { class: `sev sev-${e.severity}` }, e.severity)));
    if (showService) {
      const cell = el("td", { class: "ev-service" });
      if (e.service) {
        cell.append(el("a", { href: `/services/${encodeURIComponent(e.service)}` }, e.service));
      } else {
        cell.append(el("span", { class: "muted" }, "—"));
      }
      row.append(cell);
    }
    row.append(el("td", { class: "ev-kind" }, el("code", {}, e.kind)));
    const kv = el("span", { class: "kv" });
    // Same order as the server's attribute_items: name first, instance last, others sorted.
    const attributes = e.attributes || {};
    const keys = Object.keys(attributes)
      .filter((k) => k !== "name" && k !== "instance")
      .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
    if ("name" in attributes) keys.unshift("name");
    if ("instance" in attributes) keys.push("instance");
    for (const key of keys) {
      kv.append(el("span", { class: "kv-item" },
        el("span", { class: "kv-key" }, key), "=",
        el("span", { class: "kv-value" }, compact(attributes[key]))));
    }
    row.append(el("td", { class: "ev-attrs" }, kv));
    row.append(el("td", { class: "ev-source" }, e.source));
    return row;
  }

  function follow(table) {
    const tbody = table.tBodies[0];
    const keep = Number(table.dataset.keep || 200);
    const showService = table.dataset.showService !== "false";
    const state = document.querySelector(`[data-stream-state-for="${table.id}"]`);
    const toggle = document.querySelector(`[data-stream-toggle="${table.id}"]`);
    const emptyNote = table.parentElement.querySelector(".empty-note");
    let lastId = Number(table.dataset.after || 0);
    let source = null;

    function show(mode, text) {
      table.dataset.streamState = mode;
      if (!state) return;
      state.className = `stream-state stream-${mode}`;
      state.querySelector(".stream-state-text").textContent = text;
    }

    function connect() {
      const url = new URL(table.dataset.eventStream, location.href);
      url.searchParams.set("after", String(lastId));
      source = new EventSource(url.pathname + url.search);
      show("connecting", "connecting…");
      source.addEventListener("open", () => show("live", "live"));
      source.addEventListener("event", (message) => {
        const e = JSON.parse(message.data);
        if (e.id <= lastId) return;
        lastId = e.id;
        tbody.prepend(eventRow(e, showService));
        while (tbody.rows.length > keep) tbody.deleteRow(-1);
        if (emptyNote) emptyNote.hidden = true;
      });
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) {
          show("down", "disconnected: reload the page");
        } else {
          show("connecting", "reconnecting…");
        }
      });
    }

    function pause() {
      if (source) source.close();
      source = null;
      show("paused", "paused");
    }

    if (toggle) {
      toggle.addEventListener("click", () => {
        const paused = source === null;
        if (paused) connect(); else pause();
        toggle.textContent = paused ? "Pause" : "Resume";
        toggle.setAttribute("aria-pressed", paused ? "false" : "true");
      });
    }
    window.addEventListener("pagehide", () => source && source.close());
    connect();
  }

  // -- forms and buttons -----------------------------------------------------------------

  document.addEventListener("change", (evt) => {
    const form = evt.target.closest("form[data-autosubmit]");
    if (form && evt.target.tagName === "SELECT") form.requestSubmit();
  });

  document.addEventListener("submit", (evt) => {
    const question = evt.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) evt.preventDefault();
  });

  document.addEventListener("click", (evt) => {
    const button = evt.target.closest("[data-copy]");
    if (!button) return;
    const input = document.getElementById(button.getAttribute("data-copy"));
    input.select();
    navigator.clipboard.writeText(input.value).then(
      () => { button.textContent = "Copied"; },
      () => { button.textContent = "Press Ctrl+C"; },
    );
  });

  for (const table of document.querySelectorAll("table[data-event-stream]")) follow(table);
  setInterval(refreshTimes, 15000);
})();
