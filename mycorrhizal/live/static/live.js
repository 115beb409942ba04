// mycorrhizal live view: plain JavaScript, no build step, nothing fetched from elsewhere.
// The page loads the picture (diagram.svg), then follows api/stream (server-sent events):
// a "snapshot" (state + recent events) first and after the page fell behind, then "update"s.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_EVENTS = 1000;
  const nodes = new Map();        // picture node id -> <g class="node">
  const badges = new Map();       // place node id -> its token badge <g>
  const chosenKey = new Map();    // machine name -> key shown in the picture
  const types = new Map();        // event type -> its filter checkbox
  let last = null;                // last snapshot
  let follow = true;              // keep the event list scrolled to the newest (until the user scrolls up)
  let picture = 0;                // revision of the picture shown (a net changed while running: one more)
  let drawing = null;             // the picture being loaded again, if it is
  let server = null;              // the id of the server the stream is from (another one: it restarted)
  let noticed = 0;                // when (Date.now()) the notice shown was put up; 0: none shown
  // An update clears a notice only once it has been up this long (ms): updates come every 50 ms, and
  // a notice gone at once would never be read. A control that succeeds clears it at once.
  const NOTICE_MS = 5000;

  // ------------------------------------------------------------------ the picture

  async function loadPicture() {
    const response = await fetch("diagram.svg");
    const svg = await response.text();
    $("svg").classList.remove("muted");
    $("svg").innerHTML = svg;
    nodes.clear();
    badges.clear();
    for (const g of document.querySelectorAll("#svg g.node[data-node]")) nodes.set(g.dataset.node, g);
  }

  function followPicture(revision) {
    // The net was changed while running: load its new picture once, then show the state on it.
    if (revision === undefined || revision === picture || drawing) return;
    drawing = loadPicture().then(() => { picture = revision; }).finally(() => {
      drawing = null;
      if (last) apply(last);
    });
  }

  function badge(id) {
    let b = badges.get(id);
    if (b) return b;
    const g = nodes.get(id);
    if (!g) return null;
    const box = g.getBBox();
    b = document.createElementNS(SVG_NS, "g");
    b.setAttribute("class", "badge empty");
    const circle = document.createElementNS(SVG_NS, "circle");
    circle.setAttribute("cx", box.x + box.width - 3);
    circle.setAttribute("cy", box.y + 3);
    circle.setAttribute("r", 9);
    const text = document.createElementNS(SVG_NS, "text");
    text.setAttribute("x", box.x + box.width - 3);
    text.setAttribute("y", box.y + 3);
    b.append(circle, text);
    g.append(b);
    badges.set(id, b);
    return b;
  }

  function setClass(g, name, on) { if (g) g.classList.toggle(name, on); }

  // ------------------------------------------------------------------ applying a snapshot

  function apply(snap) {
    last = snap;
    followPicture(snap.picture);
    $("name").textContent = snap.name;
    $("kind").textContent = snap.kind;
    document.title = `${snap.name} - mycorrhizal live view`;
    $("time").textContent = Number(snap.time).toFixed(2);
    const current = applyMachines(snap.machines);
    for (const [id, g] of nodes) {
      setClass(g, "current", current.has(id));
      setClass(g, "busy", (snap.busy[id] || 0) > 0);
      setClass(g, "outcome-failed", snap.outcomes[id] === "failed");
      for (const st of ["running", "success", "failure", "cancelled"]) {
        setClass(g, `st-${st}`, (snap.statuses[id] || "").toLowerCase() === st);
      }
    }
    applyPlaces(snap.places);
    $("tree-box").hidden = snap.kind !== "tree";
    $("ticks").textContent = snap.ticks ?? 0;
    applyControl(snap.control || {});
    countEvents();
  }

  function countEvents() {
    // The list keeps the newest MAX_EVENTS; a page opened late, or one that fell behind, or a run
    // faster than the view describes (stats.skipped), lists fewer than were seen: say so.
    const seen = (last && last.stats && last.stats.seen) || 0;
    const listed = $("events").children.length;
    $("event-count").textContent = seen > listed ? `${seen} seen, ${listed} listed` : `${seen} seen`;
  }

  function applyPlaces(places) {
    const names = Object.keys(places);
    $("places-box").hidden = names.length === 0;
    const body = $("places").tBodies[0];
    for (const row of [...body.rows]) if (!(row.dataset.place in places)) row.remove();  // a place removed
    for (const id of names) {
      const count = places[id];
      let row = body.querySelector(`tr[data-place="${CSS.escape(id)}"]`);
      if (!row) {
        row = body.insertRow();
        row.dataset.place = id;
        row.insertCell().textContent = id.split(".").slice(-1)[0];
        row.cells[0].title = id;
        row.insertCell().className = "count";
      }
      row.cells[1].textContent = count;
      const b = badge(id);
      if (b) {
        b.querySelector("text").textContent = count;
        b.classList.toggle("empty", count === 0);
        setClass(nodes.get(id), "marked", count > 0);
      }
    }
  }

  function applyMachines(machines) {
    const current = new Set();
    $("machines-box").hidden = machines.length === 0;
    const box = $("machines");
    const names = new Set(machines.map((m) => m.name));
    for (const div of [...box.children]) if (!names.has(div.dataset.machine)) div.remove();  // its transition removed
    for (const m of machines) {
      let div = box.querySelector(`div.machine[data-machine="${CSS.escape(m.name)}"]`);
      if (!div) {
        div = document.createElement("div");
        div.className = "machine";
        div.dataset.machine = m.name;
        div.innerHTML = '<span class="name"></span>: <span class="state"></span><select hidden></select>';
        div.querySelector(".name").textContent = m.name.split(".").slice(-1)[0];
        div.title = m.name;
        div.querySelector("select").addEventListener("change", (e) => {
          chosenKey.set(m.name, e.target.value);
          if (last) apply(last);
        });
        box.append(div);
      }
      const select = div.querySelector("select");
      const keys = m.keys.map((k) => k.key);
      select.hidden = m.keys.length < 2 && !(m.keys[0] && m.keys[0].key);
      if ([...select.options].map((o) => o.value).join("\n") !== keys.join("\n")) {
        select.replaceChildren(...keys.map((k) => new Option(k || "(one machine)", k)));
      }
      if (!keys.includes(chosenKey.get(m.name))) chosenKey.set(m.name, keys[0]);
      select.value = chosenKey.get(m.name) ?? "";
      const shown = m.keys.find((k) => k.key === chosenKey.get(m.name));
      div.querySelector(".state").textContent = shown ? shown.state + (shown.complete ? " (done)" : "") : "not started";
      // a statechart: every active state (one leaf per parallel region, and the states around them)
      for (const id of shown ? shown.nodes || [shown.node] : []) if (id) current.add(id);
    }
    return current;
  }

  function applyControl(control) {
    $("controls").hidden = !control.pausable;
    if (!control.pausable) return;
    $("pause").textContent = control.paused ? "Resume" : "Pause";
    $("pause").dataset.paused = control.paused ? "yes" : "no";
    if (document.activeElement !== $("speed")) $("speed").value = control.speed;
    $("steps").textContent = control.steps ? `${control.steps} step${control.steps === 1 ? "" : "s"}` : "";
  }

  // ------------------------------------------------------------------ the event list

  function typeFilter(type) {
    if (types.has(type)) return types.get(type);
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.value = type;
    box.addEventListener("change", refilter);
    label.append(box, " " + type);
    $("filter-types").append(label);
    types.set(type, box);
    return box;
  }

  function visible(li) {
    const box = types.get(li.dataset.type);
    if (box && !box.checked) return false;
    const text = $("filter-text").value.trim().toLowerCase();
    return !text || li.textContent.toLowerCase().includes(text);
  }

  function refilter() {
    for (const li of $("events").children) li.hidden = !visible(li);
  }

  function addEvents(records) {
    const list = $("events");
    for (const r of records) {
      typeFilter(r.type);
      const li = document.createElement("li");
      li.dataset.type = r.type;
      li.dataset.seq = r.seq;
      if (/Fail|Error/.test(r.type)) li.classList.add("failed");
      const t = document.createElement("span");
      t.className = "t";
      t.textContent = r.time == null ? "" : Number(r.time).toFixed(2);
      const type = document.createElement("span");
      type.className = "type";
      type.textContent = r.type;
      li.append(t, type, r.text);
      li.title = `${r.engine} ${r.source} #${r.seq}`;
      li.addEventListener("click", () => flash(r.nodes));
      li.hidden = !visible(li);
      list.append(li);
    }
    while (list.children.length > MAX_EVENTS) list.firstElementChild.remove();
    countEvents();
    if (follow) list.scrollTop = list.scrollHeight;
  }

  function flash(ids) {
    for (const id of ids || []) {
      const g = nodes.get(id);
      if (!g) continue;
      g.classList.add("flash");
      setTimeout(() => g.classList.remove("flash"), 600);
    }
  }

  function notice(text) {
    $("notice").hidden = !text;
    $("notice").textContent = text || "";
    noticed = text ? Date.now() : 0;
  }

  function settled(now) {
    // The view answered again: a notice (a control that failed, the page fell behind) is over.
    if (noticed && (now || Date.now() - noticed >= NOTICE_MS)) notice("");
  }

  // ------------------------------------------------------------------ the stream and the controls

  function connect() {
    const stream = new EventSource("api/stream");
    stream.onopen = () => { $("connection").textContent = "live"; $("connection").className = "connection live"; };
    stream.onerror = () => { $("connection").textContent = "reconnecting..."; $("connection").className = "connection lost"; };
    stream.addEventListener("snapshot", (e) => {
      const data = JSON.parse(e.data);
      if (server !== null && data.server !== server) forgetServer();
      server = data.server;
      if (data.history.length) {
        $("events").replaceChildren();
        addEvents(data.history);
      }
      settled(false);
      if (data.dropped) {
        notice(`This page fell behind: ${data.dropped} events were skipped here (${data.coalesced}x); the picture is current.`);
      }
      apply(data.snapshot);
    });
    stream.addEventListener("update", (e) => {
      const data = JSON.parse(e.data);
      settled(false);
      addEvents(data.events);
      apply(data.snapshot);
      for (const r of data.events) flash(r.nodes);
    });
  }

  function forgetServer() {
    // Reconnected to a new server (restarted, perhaps with another target): what the old one told
    // is gone, its events are numbered afresh, and its picture may differ.
    $("events").replaceChildren();
    $("filter-types").replaceChildren();
    types.clear();
    notice("");
    picture = null;
  }

  async function control(body) {
    let response;
    try {
      response = await fetch("api/control", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    } catch (err) {  // no answer at all: the view stopped, or the network is down
      notice(`The view did not answer (${err.message}), so "${body.action}" was not done: is it still running?`);
      return;
    }
    if (response.ok) settled(true);
    else notice(await response.text());
  }

  $("pause").addEventListener("click", () => control({ action: $("pause").dataset.paused === "yes" ? "resume" : "pause" }));
  $("step").addEventListener("click", () => control({ action: "step" }));
  $("speed").addEventListener("change", () => control({ action: "speed", speed: Number($("speed").value) }));
  $("filter-text").addEventListener("input", refilter);
  $("events").addEventListener("scroll", () => {
    const list = $("events");
    follow = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  });

  loadPicture().then(connect, (err) => { $("svg").textContent = `cannot load the picture: ${err}`; });
})();
