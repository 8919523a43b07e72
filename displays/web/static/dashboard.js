// The ops dashboard: keeps the open page live (every 3 s the changing parts, rendered by the server, are put
// in place: badges, problems, feeds, each display's row, the audit log) and drives the admin API's forms.
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function text(id, value) { var el = $(id); if (el) el.textContent = value; }

  // --- live parts -------------------------------------------------------------------------------
  var shown = {};
  function put(key, el, html, outer) {
    if (!el || shown[key] === html) return;
    shown[key] = html;
    if (outer) { el.outerHTML = html; } else { el.innerHTML = html; }
  }
  async function poll() {
    var doc;
    try {
      doc = await (await fetch("/dashboard/parts.json", {cache: "no-store"})).json();
    } catch (e) { return; /* the next poll tries again */ }
    put("badges", $("badges"), doc.badges);
    var problems = $("problems");
    problems.className = doc.problems_class;
    put("problems", problems, doc.problems);
    put("feeds", $("feeds").tBodies[0], doc.feeds);
    put("audit", $("audit").tBodies[0], doc.audit);
    var body = $("displays").tBodies[0];
    var wanted = Object.keys(doc.rows);
    Array.prototype.slice.call(body.rows).forEach(function (row) {
      if (wanted.indexOf(row.id.replace(/^display-/, "")) < 0) { row.remove(); delete shown["row " + row.id]; }
    });
    wanted.forEach(function (id) {
      var row = $("display-" + id);
      if (!row) {
        row = body.insertRow(-1);
        row.id = "display-" + id;
      }
      put("row display-" + id, row, doc.rows[id], true);
    });
  }
  setInterval(poll, 3000);

  // --- the admin token, beside each form that needs it ------------------------------------------
  var tokens = document.querySelectorAll("input.admin-token");
  function token() {
    for (var i = 0; i < tokens.length; i++) { if (tokens[i].value) return tokens[i].value; }
    return sessionStorage.getItem("stopcast-admin-token") || "";
  }
  function keepToken() {
    var value = token();
    sessionStorage.setItem("stopcast-admin-token", value);
    tokens.forEach(function (t) { t.value = value; });
  }
  tokens.forEach(function (t) {
    t.value = sessionStorage.getItem("stopcast-admin-token") || "";
    t.addEventListener("change", function () { tokens.forEach(function (o) { if (o !== t) o.value = t.value; }); keepToken(); });
  });
  function headers() { return {"Authorization": "Bearer " + token(), "Content-Type": "application/json"}; }
  function list(value) { return value.split(",").map(function (s) { return s.trim(); }).filter(Boolean); }
  async function answerOf(response) {
    try { return await response.json(); } catch (e) { return {error: response.statusText}; }
  }
  function fieldError(form, statusId, status, message) {
    var field = /field '([a-z_.]+)'/.exec(message);
    var name = status === 401 || status === 403 ? "token" : (field ? field[1] : null);
    var spot = name && form.querySelector('.field-error[data-for="' + name + '"]');
    if (spot) { spot.textContent = message; } else { text(statusId, message); }
  }
  function clearErrors(form, statusId) {
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
    text(statusId, "");
  }

  // --- stops by name: a stop field offers the stops named like what is typed after its last comma ----
  var options = $("stop-options");
  var searching = 0;
  document.querySelectorAll("input.stop-search").forEach(function (input) {
    input.addEventListener("input", async function () {
      var parts = input.value.split(","), typed = parts.pop().trim();
      if (typed.length < 2) return;
      var mine = ++searching;
      var found = await (await fetch("/api/stops?q=" + encodeURIComponent(typed))).json();
      if (mine !== searching || !Array.isArray(found)) return;
      var before = parts.map(function (s) { return s.trim(); }).filter(Boolean);
      options.innerHTML = "";
      found.forEach(function (stop) {
        options.appendChild(Object.assign(document.createElement("option"),
          {value: before.concat([stop.id]).join(", "), label: stop.label + " – " + stop.id}));
      });
    });
  });

  // --- displays: add, change (with a preview before saving), remove -----------------------------
  var form = $("display-form");
  var editing = null;
  function setEditing(id) {
    editing = id;
    form.elements.id.readOnly = !!id;
    text("form-title", id ? "Change display " + id : "Add a display");
  }
  function displayBody() {
    var body = {id: form.elements.id.value.trim(), layout: form.elements.layout.value, stops: list(form.elements.stops.value)};
    if (form.elements.name.value.trim()) body.name = form.elements.name.value.trim();
    if (form.elements.language.value) body.language = form.elements.language.value;
    return body;
  }
  async function sendDisplay(previewOnly) {
    clearErrors(form, "form-status");
    keepToken();
    var url = (editing ? "/api/displays/" + encodeURIComponent(editing) : "/api/displays") + (previewOnly ? "?preview=1" : "");
    var answer = await fetch(url, {method: editing ? "PUT" : "POST", headers: headers(), body: JSON.stringify(displayBody())});
    var doc = await answerOf(answer);
    if (!answer.ok) { fieldError(form, "form-status", answer.status, doc.error || answer.statusText); return; }
    var box = $("display-preview");
    if (!previewOnly) { text("form-status", "saved"); box.innerHTML = ""; setEditing(doc.id); poll(); return; }
    box.innerHTML = "";
    var figure = document.createElement("figure");
    figure.appendChild(Object.assign(document.createElement("img"), {src: doc.png, alt: "preview of " + doc.display.id}));
    figure.appendChild(Object.assign(document.createElement("figcaption"),
      {textContent: "Preview (not saved): " + doc.display.id + ", " + doc.display.layout + ", " + doc.width + "×" + doc.height}));
    box.appendChild(figure);
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); sendDisplay(false); });
  $("f-preview").addEventListener("click", function () { sendDisplay(true); });
  $("f-new").addEventListener("click", function () { form.reset(); clearErrors(form, "form-status"); setEditing(null); $("display-preview").innerHTML = ""; tokens.forEach(function (t) { t.value = sessionStorage.getItem("stopcast-admin-token") || ""; }); });

  var playing = null;
  $("displays").addEventListener("click", async function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    var id = button.dataset.id;
    if (button.classList.contains("edit")) {
      clearErrors(form, "form-status");
      var answer = await fetch("/api/displays/" + encodeURIComponent(id), {headers: headers()});
      var doc = await answerOf(answer);
      if (!answer.ok) { fieldError(form, "form-status", answer.status, doc.error); form.scrollIntoView(); return; }
      form.elements.id.value = doc.id;
      form.elements.stops.value = doc.stops.join(", ");
      form.elements.layout.value = doc.layout;
      form.elements.name.value = doc.name || "";
      form.elements.language.value = doc.language || "";
      setEditing(doc.id);
      form.scrollIntoView();
    } else if (button.classList.contains("remove")) {
      if (!window.confirm("Remove display " + id + "? Its pillar goes dark.")) return;
      var removed = await fetch("/api/displays/" + encodeURIComponent(id), {method: "DELETE", headers: headers()});
      if (removed.ok) { poll(); return; }
      fieldError(form, "form-status", removed.status, (await answerOf(removed)).error);
      form.scrollIntoView();
    } else if (button.classList.contains("speak")) {  // what the pillar says when a rider asks it to read aloud
      if (playing) { playing.pause(); }
      playing = new Audio("/displays/" + encodeURIComponent(id) + "/speech.wav");
      playing.play().catch(function () { button.textContent = "no audio"; });
    }
  });

  // --- ops messages: create, change, preview (nothing is published), end now --------------------
  var mform = $("message-form");
  var mediting = null;
  function period(f, body) {
    if (f.starts.value) body.starts = f.starts.value;
    if (f.ends.value) body.ends = f.ends.value;
    return body;
  }
  function targets(f) {
    return {displays: list(f.displays.value), stops: list(f.stops.value), routes: list(f.routes.value), all: f.all.checked};
  }
  function messageBody() {
    var f = mform.elements, body = {text: {}, kind: f.kind.value, priority: parseInt(f.priority.value || "5", 10), targets: targets(f)};
    if (f.de.value.trim()) body.text.de = f.de.value;
    if (f.en.value.trim()) body.text.en = f.en.value;
    if (f.daily_from.value || f.daily_to.value) body.daily = {from: f.daily_from.value, to: f.daily_to.value};
    return period(f, body);
  }
  async function sendMessage(previewOnly) {
    clearErrors(mform, "message-status");
    keepToken();
    var url = (mediting ? "/api/messages/" + encodeURIComponent(mediting) : "/api/messages") + (previewOnly ? "?preview=1" : "");
    var answer = await fetch(url, {method: mediting ? "PUT" : "POST", headers: headers(), body: JSON.stringify(messageBody())});
    var doc = await answerOf(answer);
    if (!answer.ok) { fieldError(mform, "message-status", answer.status, doc.error || answer.statusText); return; }
    if (!previewOnly) { text("message-status", "saved"); location.reload(); return; }
    var box = $("message-preview");
    box.innerHTML = "";
    box.appendChild(Object.assign(document.createElement("p"), {textContent: "Preview (not published): reaches " + doc.reached.length + " display(s)" + (doc.reached.length > doc.displays.length ? ", the first " + doc.displays.length + " shown" : "")}));
    doc.displays.forEach(function (d) {
      var figure = document.createElement("figure");
      if (d.png) { figure.appendChild(Object.assign(document.createElement("img"), {src: d.png, alt: d.id})); }
      figure.appendChild(Object.assign(document.createElement("figcaption"), {textContent: d.id + (d.error ? ": " + d.error : "")}));
      box.appendChild(figure);
    });
  }
  mform.addEventListener("submit", function (event) { event.preventDefault(); sendMessage(false); });
  $("m-preview").addEventListener("click", function () { sendMessage(true); });
  $("m-new").addEventListener("click", function () {
    mform.reset(); mediting = null; text("message-title", "New message"); $("message-preview").innerHTML = "";
    tokens.forEach(function (t) { t.value = sessionStorage.getItem("stopcast-admin-token") || ""; });
  });
  document.querySelectorAll("button.m-edit").forEach(function (button) {
    button.addEventListener("click", async function () {
      var answer = await fetch("/api/messages/" + encodeURIComponent(button.dataset.id), {headers: headers()});
      var doc = await answerOf(answer);
      if (!answer.ok) { fieldError(mform, "message-status", answer.status, doc.error); mform.scrollIntoView(); return; }
      var f = mform.elements;
      f.de.value = doc.text.de || ""; f.en.value = doc.text.en || ""; f.kind.value = doc.kind; f.priority.value = doc.priority;
      f.starts.value = (doc.starts || "").slice(0, 16); f.ends.value = (doc.ends || "").slice(0, 16);
      f.daily_from.value = doc.daily ? doc.daily.from : ""; f.daily_to.value = doc.daily ? doc.daily.to : "";
      f.displays.value = doc.targets.displays.join(", "); f.stops.value = doc.targets.stops.join(", ");
      f.routes.value = doc.targets.routes.join(", "); f.all.checked = doc.targets.all;
      mediting = doc.id; text("message-title", "Change message " + doc.id);
      mform.scrollIntoView();
    });
  });
  document.querySelectorAll("button.m-end, button.s-end").forEach(function (button) {
    button.addEventListener("click", async function () {
      keepToken();
      var kind = button.classList.contains("m-end") ? "messages" : "suppressions";
      var answer = await fetch("/api/" + kind + "/" + encodeURIComponent(button.dataset.id) + "/end", {method: "POST", headers: headers()});
      if (answer.ok) { location.reload(); return; }
      text("message-status", (await answerOf(answer)).error);
    });
  });

  // --- suppressions: keep feed alerts off chosen displays ---------------------------------------
  var sform = $("suppression-form");
  sform.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(sform, "suppression-status");
    keepToken();
    var f = sform.elements;
    var body = period(f, {targets: targets(f), reason: f.reason.value,
                          alerts: {ids: list(f.alert_ids.value), routes: list(f.alert_routes.value), all: f.alert_all.checked}});
    var answer = await fetch("/api/suppressions", {method: "POST", headers: headers(), body: JSON.stringify(body)});
    if (answer.ok) { text("suppression-status", "saved"); location.reload(); return; }
    var doc = await answerOf(answer);
    fieldError(sform, "suppression-status", answer.status, doc.error || answer.statusText);
  });
})();
