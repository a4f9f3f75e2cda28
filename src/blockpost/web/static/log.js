// The job page's log: fetched incrementally from /ui/jobs/{id}/log?from=N, ANSI colours as
// classes, one fold per command (the failed one open), search, and virtualised rendering:
// only the rows in view are in the DOM, so a 10 MB log scrolls like a short one.

const ROW = 20; // px; the height of .log .row in app.css
const SPARE = 30; // rows rendered above and below the view
const SLICE = 40; // events taken in per frame while a large log arrives
const IDLE_MS = 1000; // between polls when nothing new came
const ESCAPES = /\x1b\[([0-9;?]*)([A-Za-z])/g;
const ANY_ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;

// --- ANSI SGR: a state is {fg, bg, bold, dim, italic, underline}; classes name it.

const PLAIN = Object.freeze({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

function extended(params, at) {
  // 38;5;N (256 colours: the first 16 map to ours) or 38;2;R;G;B (not shown); returns
  // [colour or null, parameters used]
  if (params[at + 1] === 5) {
    const n = params[at + 2];
    return [Number.isInteger(n) && n < 16 ? n : null, 3];
  }
  if (params[at + 1] === 2) return [null, 5];
  return [null, 1];
}

function apply(state, codeText) {
  const params = codeText === "" ? [0] : codeText.split(";").map((p) => (p === "" ? 0 : Number(p)));
  const next = { ...state };
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) Object.assign(next, PLAIN);
    else if (p === 1) next.bold = true;
    else if (p === 2) next.dim = true;
    else if (p === 3) next.italic = true;
    else if (p === 4) next.underline = true;
    else if (p === 22) next.bold = next.dim = false;
    else if (p === 23) next.italic = false;
    else if (p === 24) next.underline = false;
    else if (p >= 30 && p <= 37) next.fg = p - 30;
    else if (p >= 90 && p <= 97) next.fg = p - 90 + 8;
    else if (p === 39) next.fg = null;
    else if (p >= 40 && p <= 47) next.bg = p - 40;
    else if (p >= 100 && p <= 107) next.bg = p - 100 + 8;
    else if (p === 49) next.bg = null;
    else if (p === 38 || p === 48) {
      const [colour, used] = extended(params, i);
      if (p === 38) next.fg = colour;
      else next.bg = colour;
      i += used - 1;
    }
  }
  return next;
}

function classes(state) {
  const names = [];
  if (state.fg !== null) names.push(`a-fg${state.fg}`);
  if (state.bg !== null) names.push(`a-bg${state.bg}`);
  if (state.bold) names.push("a-b");
  if (state.dim) names.push("a-d");
  if (state.italic) names.push("a-i");
  if (state.underline) names.push("a-u");
  return names.join(" ");
}

// [[classes, text], ...] of a line that starts in `state`, and the state it ends in
function parse(text, state) {
  const parts = [];
  let at = 0;
  let current = state;
  for (const match of text.matchAll(ESCAPES)) {
    if (match.index > at) parts.push([classes(current), text.slice(at, match.index)]);
    if (match[2] === "m") current = apply(current, match[1]);
    at = match.index + match[0].length;
  }
  if (at < text.length) parts.push([classes(current), text.slice(at)]);
  return [parts, current];
}

function plainText(text) {
  return text.replace(ANY_ESCAPE, "");
}

// A carriage return without a newline redraws the line (progress bars): keep the last draw.
function lastDraw(text) {
  const trimmed = text.endsWith("\r") ? text.slice(0, -1) : text;
  const at = trimmed.lastIndexOf("\r");
  return at >= 0 ? trimmed.slice(at + 1) : trimmed;
}

// --- The log as folds of lines.

class Log {
  constructor(watched) {
    this.watched = watched;
    this.folds = [];
    this.finished = false;
    this.result = "";
    this.lineCount = 0;
    this.version = 0;
  }

  fold(title) {
    const fold = { title, lines: [], exit: null, seconds: null, open: null, partial: false, state: PLAIN };
    this.folds.push(fold);
    return fold;
  }

  current() {
    return this.folds[this.folds.length - 1] || this.fold("Output");
  }

  output(text) {
    const fold = this.current();
    const pieces = text.split("\n");
    pieces.forEach((piece, index) => {
      const last = index === pieces.length - 1;
      if (last && piece === "") {
        fold.partial = false;
        return;
      }
      if (index === 0 && fold.partial) {
        fold.lines[fold.lines.length - 1].text += piece;
      } else {
        fold.lines.push({ text: piece, state: fold.state });
        this.lineCount++;
      }
      fold.partial = last;
      if (!last) this.close(fold);
    });
  }

  // a finished line: the state the next one starts in
  close(fold) {
    const line = fold.lines[fold.lines.length - 1];
    line.text = lastDraw(line.text);
    fold.state = parse(line.text, line.state)[1];
  }

  take(event) {
    if (event.event === "cmd_started") {
      this.fold(String(event.directive ?? ""));
    } else if (event.event === "cmd_output") {
      this.output(String(event.output ?? ""));
    } else if (event.event === "cmd_finished") {
      const fold = this.current();
      fold.exit = Number(event.exit_code ?? 0);
      if (event.started_at && event.finished_at) fold.seconds = event.finished_at - event.started_at;
      if (fold.partial) this.close(fold);
      fold.partial = false;
    } else if (event.event === "job_finished") {
      this.result = String(event.result ?? "");
    }
    this.version++;
  }

  // Unless a person toggled it: a failed command is open; on a job watched while it ran
  // every command stays open (folding a command someone is reading would hide it); on a job
  // opened after it finished the others are closed.
  isOpen(fold, index) {
    if (fold.open !== null) return fold.open;
    if (fold.exit !== null) return fold.exit !== 0 || this.watched;
    return this.watched || index === this.folds.length - 1;
  }
}

// --- Rendering: a spacer as tall as every row, and the rows in view inside it.

function seconds(value) {
  if (value === null) return "";
  if (value < 60) return `${value}s`;
  const minutes = Math.floor(value / 60);
  return `${minutes}m ${String(value % 60).padStart(2, "0")}s`;
}

class View {
  constructor(root, log) {
    this.root = root;
    this.log = log;
    this.starts = []; // row index of each fold's header
    this.total = 0;
    this.follow = true;
    this.query = "";
    this.hit = null; // [fold, line] of the current match
    this.pending = false;
    root.textContent = "";
    this.space = document.createElement("div");
    this.space.className = "log-space";
    this.rows = document.createElement("div");
    this.rows.className = "log-rows";
    this.space.append(this.rows);
    root.append(this.space);
    root.addEventListener("scroll", () => {
      this.follow = root.scrollTop + root.clientHeight >= root.scrollHeight - ROW * 2;
      this.schedule();
    });
    this.rows.addEventListener("click", (event) => {
      const button = event.target.closest("button.fold");
      if (!button) return;
      const index = Number(button.dataset.fold);
      const fold = this.log.folds[index];
      fold.open = !this.log.isOpen(fold, index);
      this.follow = false;
      this.schedule();
    });
  }

  layout() {
    this.starts = [];
    let row = 0;
    this.log.folds.forEach((fold, index) => {
      this.starts.push(row);
      row += 1 + (this.log.isOpen(fold, index) ? fold.lines.length : 0);
    });
    this.total = row;
  }

  // [fold index, line index or -1 for the header] of a row
  locate(row) {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle] <= row) low = middle;
      else high = middle - 1;
    }
    return [low, row - this.starts[low] - 1];
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  // the spacer's height before any scrolling: a position past the old height is clamped
  measure() {
    this.layout();
    this.space.style.height = `${this.total * ROW}px`;
  }

  render() {
    this.measure();
    if (this.follow) this.root.scrollTop = this.total * ROW;
    const first = Math.max(0, Math.floor(this.root.scrollTop / ROW) - SPARE);
    const last = Math.min(this.total, Math.ceil((this.root.scrollTop + this.root.clientHeight) / ROW) + SPARE);
    this.rows.style.transform = `translateY(${first * ROW}px)`;
    const made = document.createDocumentFragment();
    for (let row = first; row < last; row++) {
      const [foldIndex, lineIndex] = this.locate(row);
      const fold = this.log.folds[foldIndex];
      made.append(lineIndex < 0 ? this.header(fold, foldIndex) : this.line(fold, foldIndex, lineIndex));
    }
    this.rows.replaceChildren(made);
  }

  header(fold, index) {
    const row = document.createElement("div");
    row.className = "row head";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "fold";
    button.dataset.fold = String(index);
    const open = this.log.isOpen(fold, index);
    button.setAttribute("aria-expanded", String(open));
    button.textContent = `${open ? "▾" : "▸"} ${fold.title}`;
    row.append(button);
    const meta = document.createElement("span");
    if (fold.exit === null) {
      meta.className = "meta";
      meta.textContent = this.log.finished ? "" : "running";
    } else {
      meta.className = fold.exit === 0 ? "meta ok" : "meta bad";
      meta.textContent = `exit ${fold.exit}${fold.seconds !== null ? ` · ${seconds(fold.seconds)}` : ""}`;
    }
    row.append(meta);
    return row;
  }

  line(fold, foldIndex, lineIndex) {
    const row = document.createElement("div");
    row.className = "row";
    const item = fold.lines[lineIndex];
    const query = this.query.toLowerCase();
    const plain = query ? plainText(item.text) : "";
    if (query && plain.toLowerCase().includes(query)) {
      // a line with a match shows its plain text with the matches marked
      const current = this.hit && this.hit[0] === foldIndex && this.hit[1] === lineIndex;
      if (current) row.classList.add("hit");
      const lower = plain.toLowerCase();
      let at = 0;
      let found = lower.indexOf(query);
      while (found >= 0) {
        row.append(plain.slice(at, found));
        const mark = document.createElement("mark");
        mark.textContent = plain.slice(found, found + query.length);
        row.append(mark);
        at = found + query.length;
        found = lower.indexOf(query, at);
      }
      row.append(plain.slice(at));
      return row;
    }
    const [parts] = parse(item.text, item.state);
    for (const [names, text] of parts) {
      if (!names) {
        row.append(text);
        continue;
      }
      const span = document.createElement("span");
      span.className = names;
      span.textContent = text;
      row.append(span);
    }
    if (!parts.length) row.append("\u200b"); // an empty line keeps its height when copied
    return row;
  }

  show(foldIndex, lineIndex) {
    const fold = this.log.folds[foldIndex];
    if (!this.log.isOpen(fold, foldIndex)) fold.open = true;
    this.measure();
    this.follow = false;
    const row = this.starts[foldIndex] + 1 + lineIndex;
    this.root.scrollTop = Math.max(0, row * ROW - this.root.clientHeight / 2);
    this.render();
  }
}

// --- Search: every matching line, then next/previous through them.

class Search {
  constructor(view, form, count) {
    this.view = view;
    this.count = count;
    this.matches = [];
    this.at = -1;
    this.query = "";
    this.version = -1;
    this.input = form.querySelector("input");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.step(1);
    });
    form.querySelector("#log-prev").addEventListener("click", () => this.step(-1));
  }

  find(query) {
    const needle = query.toLowerCase();
    this.matches = [];
    this.view.log.folds.forEach((fold, foldIndex) => {
      fold.lines.forEach((line, lineIndex) => {
        const text = line.text.includes("\x1b") ? plainText(line.text) : line.text;
        if (text.toLowerCase().includes(needle)) {
          this.matches.push([foldIndex, lineIndex]);
        }
      });
    });
    this.query = query;
    this.version = this.view.log.version;
  }

  step(direction) {
    const query = this.input.value;
    this.view.query = query;
    if (!query) {
      this.count.textContent = "";
      this.view.hit = null;
      this.view.render();
      return;
    }
    if (query !== this.query || this.version !== this.view.log.version) {
      const kept = this.matches[this.at];
      this.find(query);
      this.at = kept && query === this.query ? this.matches.findIndex((m) => m[0] === kept[0] && m[1] === kept[1]) : -1;
      if (this.at < 0) this.at = direction > 0 ? -1 : 0;
    }
    if (!this.matches.length) {
      this.count.textContent = "no match";
      this.view.hit = null;
      this.view.render();
      return;
    }
    this.at = (this.at + direction + this.matches.length) % this.matches.length;
    this.view.hit = this.matches[this.at];
    this.count.textContent = `${this.at + 1} of ${this.matches.length}`;
    this.view.show(...this.view.hit);
  }
}

// --- Fetching: events from where we are, taken in a slice a frame.

function frame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function follow(root) {
  const log = new Log(root.dataset.finished !== "true");
  const view = new View(root, log);
  const status = document.getElementById("log-status");
  const form = document.getElementById("log-search");
  if (form) new Search(view, form, document.getElementById("log-count"));
  let next = 0;
  for (;;) {
    let answer = null;
    try {
      const response = await fetch(`${root.dataset.url}?from=${next}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-Blockpost-Script": "1" },
      });
      if (response.status === 401) {
        window.location.reload(); // the session ended: the reload reaches the login page
        return;
      }
      if (response.status === 404) {
        status.textContent = "This job is gone.";
        return;
      }
      if (response.ok) answer = await response.json();
    } catch (error) {
      // the server restarting: try again shortly
    }
    if (!answer) {
      status.textContent = "Reconnecting…";
      await sleep(IDLE_MS * 2);
      continue;
    }
    for (let at = 0; at < answer.events.length; at += SLICE) {
      answer.events.slice(at, at + SLICE).forEach((event) => log.take(event));
      view.schedule();
      await frame();
    }
    next = answer.next;
    if (answer.finished) {
      log.finished = true;
      view.schedule();
      status.textContent = `${log.lineCount} lines · job finished${log.result ? `: ${log.result}` : ""}`;
      root.dataset.loaded = "finished";
      return;
    }
    status.textContent = `${log.lineCount} lines · live`;
    root.dataset.loaded = String(next);
    if (!answer.events.length) await sleep(IDLE_MS);
  }
}

const root = document.getElementById("log");
if (root) follow(root);
